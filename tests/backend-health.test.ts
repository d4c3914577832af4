import { describe, expect, it } from 'vitest';
import { backendFailureReason } from '../src/core/backend-health';
import { FactlabError } from '../src/core/errors';

describe('backendFailureReason', () => {
  it('recognises lost devices and exhausted memory, and nothing else', () => {
    expect(backendFailureReason(new Error('Device is lost'))).toMatch(/GPU device was lost/);
    expect(backendFailureReason(new RangeError('Array buffer allocation failed'))).toMatch(/ran out of memory/);
    expect(backendFailureReason(new Error('WebAssembly.Memory(): could not allocate memory'))).toMatch(/ran out of memory/);
    expect(backendFailureReason(new Error('CONTEXT_LOST_WEBGL: loseContext'))).toMatch(/WebGL context was lost/);
    expect(backendFailureReason(new Error('Shapes [2,3] and [4,5] must match'))).toBeNull();
    expect(backendFailureReason(new FactlabError('prompt-too-long', 'The prompt has 90 tokens'))).toBeNull();
  });
});
