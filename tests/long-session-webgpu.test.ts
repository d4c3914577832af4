/**
 * The long session of tests/helpers/long-session.ts on WebGPU (Dawn + SwiftShader in Node),
 * whose buffers and kernels are managed apart from wasm's. Shorter than on wasm: SwiftShader
 * emulates the GPU on the CPU, and the full session takes minutes there. Its own file, so
 * vitest gives it its own process; without a WebGPU adapter the setup fails saying what to install.
 */
import { it } from 'vitest';
import { useWebGpu } from '../src/cli/node-webgpu';
import { runLongSession } from './helpers/long-session';

it('a session keeps tf.memory() flat on WebGPU (10 attributions, a neuron search, 5 interventions, edits, 2 mask trainings)', async () => {
  await useWebGpu();
  await runLongSession({ attributions: 10, searches: 1, interventions: 5, trainings: 2 });
});
