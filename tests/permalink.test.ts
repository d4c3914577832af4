import fc from 'fast-check';
import { deflateSync, strToU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { FactlabError } from '../src/core/errors';
import { IG_BASELINES, RULES } from '../src/core/knowledge/riemann';
import { decodeLink, encodeLink, fromBase64Url, LINK_PREFIX, MAX_FRAGMENT_CHARS, toBase64Url, VIEWS, type LabLink } from '../src/app/permalink';

/** Fixed seed and a bounded budget: the fuzzing is reproducible and takes about a second. */
const FUZZ = { seed: 20261122, numRuns: 300 };

const example: LabLink = {
  model: 'default',
  prompts: ['The capital of France is', 'France has its capital in'],
  target: ' Paris',
  fact: { id: 'capital_of/france', subject: 'France', relation: 'capital_of' },
  settings: { method: 'ig', preset: 'project', steps: 20, rule: 'right', site: 'post', t: 0.2, p: 0.5, strict: false, minPrompts: 3 },
  searched: true,
  selected: [3, 17],
  map: { value: 'attribution', prompt: 1, zoom: [0, 64] },
  intervention: { scale: 0, scope: 'refined' },
  edits: [
    { kind: 'update', prompt: 'The capital of France is', target: ' Paris', newTarget: ' Lyon', neurons: [[3, 17], [2, 40]] },
    { kind: 'erase', neurons: [[1, 5]], label: 'Paris (1 neuron)' },
  ],
  view: 'before-after',
};

const rawFragment = (value: unknown) => LINK_PREFIX + toBase64Url(deflateSync(strToU8(JSON.stringify(value))));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof FactlabError)) throw err;
    return err.code;
  }
}

describe('permalink codec', () => {
  it('round-trips a full state through a compact fragment', () => {
    const fragment = encodeLink(example);
    expect(fragment.startsWith('v1.')).toBe(true);
    expect(fragment).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(fragment.length).toBeLessThan(JSON.stringify(example).length);
    expect(decodeLink(`#${fragment}`)).toEqual(example);
  });

  it('carries the degeneracy and subnetwork settings, checked like every other field', () => {
    const withViews: LabLink = { ...example, view: 'subnetwork', degeneracy: { fromLayer: 1, ran: true, path: 'amig' }, subnetwork: { relation: 'currency_of', query: 'euro', steps: 200, seed: 1318, lambdaReg: { init: 10, final: 15 } } };
    expect(decodeLink(encodeLink(withViews))).toEqual(withViews);
    expect(() => decodeLink(rawFragment({ ...withViews, degeneracy: { fromLayer: -1, ran: true } }))).toThrow(/first degeneracy layer/);
    expect(() => decodeLink(rawFragment({ ...withViews, degeneracy: { fromLayer: 1, ran: true, path: 'mean' } }))).toThrow(/degeneracy IG baseline/);
    expect(() => decodeLink(rawFragment({ ...withViews, subnetwork: { ...withViews.subnetwork!, steps: 0 } }))).toThrow(/subnetwork steps/);
    expect(() => decodeLink(rawFragment({ ...withViews, subnetwork: { ...withViews.subnetwork!, lambdaReg: { init: 10, final: -2 } } }))).toThrow(/last λ_reg/);
    expect(() => decodeLink(rawFragment({ ...withViews, subnetwork: { ...withViews.subnetwork!, query: '<script>' .repeat(100) } }))).toThrow(/subnetwork filter is longer/);
  });

  it('says what is wrong with malformed, foreign, oversized and newer links', () => {
    expect(() => decodeLink('hello')).toThrow(/does not start with "v1\."/);
    expect(() => decodeLink('v1.@@@@')).toThrow(/character "@"/);
    expect(() => decodeLink('v1.AAAA')).toThrow(/could not be decompressed/);
    expect(() => decodeLink(LINK_PREFIX + toBase64Url(deflateSync(strToU8('{not json'))))).toThrow(/not valid JSON/);
    expect(() => decodeLink('v7.abc')).toThrow(/newer factlab \(format v7\)/);
    expect(codeOf(() => decodeLink(`v1.${'A'.repeat(MAX_FRAGMENT_CHARS)}`))).toBe('link-too-long');
    // A small fragment that would inflate to megabytes (a zip bomb) is refused while inflating.
    const bomb = rawFragment({ ...example, prompts: ['x'.repeat(3_000_000)] });
    expect(bomb.length).toBeLessThan(MAX_FRAGMENT_CHARS);
    expect(codeOf(() => decodeLink(bomb))).toBe('link-too-long');
  });

  it('checks every field and names the first bad one', () => {
    expect(() => decodeLink(rawFragment({ ...example, prompts: [] }))).toThrow(/no prompt/);
    expect(() => decodeLink(rawFragment({ ...example, model: 'javascript:alert(1)' }))).toThrow(/the model should be/);
    expect(() => decodeLink(rawFragment({ ...example, settings: { ...example.settings, steps: 0 } }))).toThrow(/steps m should be a whole number from 1 to 1000/);
    expect(() => decodeLink(rawFragment({ ...example, settings: { ...example.settings, baseline: 'mean' } }))).toThrow(/the IG baseline should be one of zero, amig/);
    expect(decodeLink(encodeLink({ ...example, settings: { ...example.settings, baseline: 'amig' } })).settings.baseline).toBe('amig');
    expect(decodeLink(encodeLink(example)).settings.baseline).toBeUndefined(); // links from before the AMIG baseline
    expect(() => decodeLink(rawFragment({ ...example, selected: [1, -2] }))).toThrow(/selected neuron index/);
    expect(() => decodeLink(rawFragment({ ...example, view: '<img src=x onerror=alert(1)>' }))).toThrow(/the view should be one of/);
    expect(() => decodeLink(rawFragment({ ...example, map: { value: 'attribution', prompt: 5 } }))).toThrow(/map prompt/);
    expect(() => decodeLink(rawFragment({ ...example, edits: [{ kind: 'update', neurons: [] }] }))).toThrow(/edits\[0\] prompt should be text/);
    expect(() => decodeLink(rawFragment({ ...example, intervention: { scale: 'NaN', scope: 'refined' } }))).toThrow(/the scale/);
    expect(() => decodeLink(rawFragment([example]))).toThrow(/the state should be an object/);
  });

  it('keeps known fields only (unknown keys from newer versions are dropped)', () => {
    const decoded = decodeLink(rawFragment({ ...example, extra: { html: '<b>x</b>' }, fact: { ...example.fact, more: 1 } }));
    expect(decoded).toEqual(example);
  });

  it('base64url round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
      }),
      FUZZ,
    );
  });
});

const small = (max: number) => fc.integer({ min: 0, max: max * 100 }).map((n) => n / 100);
const neuronArb = fc.tuple(fc.integer({ min: 0, max: 48 }), fc.integer({ min: 0, max: 20_000 }));
const textArb = fc.string({ unit: 'binary', maxLength: 40 });

const linkArb: fc.Arbitrary<LabLink> = fc
  .record({
    model: fc.constantFrom('default', 'default-bert', 'hub:openai-community/gpt2@607a30d783dfa663caf39e06633721c8d4cfcd7e', 'url:https://example.org/models/tiny'),
    prompts: fc.array(textArb, { minLength: 1, maxLength: 6 }),
    target: textArb,
    fact: fc.record({ id: fc.option(textArb, { nil: undefined }), subject: textArb, relation: textArb }, { requiredKeys: ['subject', 'relation'] }),
    settings: fc.record({
      method: fc.constantFrom('ig', 'activation'),
      preset: fc.constantFrom('project', 'official-kn', 'eleutherai'),
      steps: fc.integer({ min: 1, max: 1000 }),
      rule: fc.constantFrom(...RULES),
      site: fc.constantFrom('post', 'pre'),
      baseline: fc.option(fc.constantFrom(...IG_BASELINES), { nil: undefined }),
      t: small(1),
      p: small(1),
      strict: fc.boolean(),
      minPrompts: fc.integer({ min: 0, max: 64 }),
    }),
    searched: fc.boolean(),
    selected: fc.option(neuronArb, { nil: undefined }),
    zoom: fc.option(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 1000 })).map(([a, b]) => [a, a + b] as [number, number]), { nil: undefined }),
    mapValue: fc.constantFrom('attribution', 'activation'),
    intervention: fc.record({ scale: small(10), scope: fc.constantFrom('refined', 'selected') }),
    edits: fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('update' as const), prompt: textArb, target: textArb, newTarget: textArb, neurons: fc.array(neuronArb, { maxLength: 5 }) }),
        fc.record({ kind: fc.constant('erase' as const), neurons: fc.array(neuronArb, { maxLength: 5 }), label: textArb }),
      ),
      { maxLength: 3 },
    ),
    view: fc.constantFrom(...VIEWS),
  })
  .map(({ fact, selected, zoom, mapValue, ...rest }) => {
    const link: LabLink = { ...rest, fact: fact.id === undefined ? { subject: fact.subject, relation: fact.relation } : fact, map: { value: mapValue, ...(zoom ? { zoom } : {}) } };
    if (selected) link.selected = selected;
    return link;
  });

describe('permalink codec (fuzzed)', () => {
  it('decodes every encoded state to the same state', () => {
    fc.assert(
      fc.property(linkArb, (link) => {
        expect(decodeLink(encodeLink(link))).toEqual(link);
      }),
      FUZZ,
    );
  });

  it('answers any fragment with a state or a FactlabError, never another exception', () => {
    const fragments = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 300 }).map((s) => LINK_PREFIX + s),
      // Valid links with one character changed or the tail cut off.
      fc.tuple(linkArb, fc.nat(), fc.nat()).map(([link, at, c]) => {
        const f = encodeLink(link);
        const i = LINK_PREFIX.length + (at % (f.length - LINK_PREFIX.length));
        return c % 2 ? f.slice(0, i) : f.slice(0, i) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[c % 64] + f.slice(i + 1);
      }),
      // Well-formed compression of arbitrary JSON.
      fc.jsonValue({ maxDepth: 3 }).map(rawFragment),
    );
    fc.assert(
      fc.property(fragments, (fragment) => {
        try {
          const link = decodeLink(fragment);
          expect(decodeLink(encodeLink(link))).toEqual(link);
        } catch (err) {
          expect(err).toBeInstanceOf(FactlabError);
          expect((err as FactlabError).message.length).toBeGreaterThan(20);
        }
      }),
      FUZZ,
    );
  });
});
