/** The long session of tests/helpers/long-session.ts, full size, on wasm (the backend users get without WebGPU). */
import { it } from 'vitest';
import { runLongSession } from './helpers/long-session';
import { useWasm } from './helpers/tf';

it('a long session keeps tf.memory() flat on wasm (100 attributions, 20 interventions, edits, 3 mask trainings)', async () => {
  await useWasm();
  await runLongSession();
});
