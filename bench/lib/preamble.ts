/**
 * The lines every benchmark prints around its timings: the machine, the tfjs backend, the
 * load before timing, and the warning when other processes were busy while it timed.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../src/core/backend';
import { backgroundLoad, BUSY_THRESHOLD_CORES, isBusy, type CpuLoad } from './load';
import { machineInfo, type MachineInfo } from './report';
import type { Timing } from './timing';

export type Log = (line?: string) => void;

export function logMachine(log: Log): MachineInfo {
  const machine = machineInfo();
  log(`machine     ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}`);
  return machine;
}

export function logBackend(log: Log, backend: BackendInfo, loadMs: number): void {
  const features = backend.wasmFeatures;
  log(`tfjs        ${tf.version.tfjs} ${backend.name} backend, SIMD ${features?.simd ? 'on' : 'off'}, threads ${features?.threads ? 'on' : 'off (1 thread)'}; weights loaded in ${(loadMs / 1000).toFixed(1)} s`);
}

/** Other processes' load over one idle second, printed. */
export async function logIdleLoad(log: Log): Promise<CpuLoad | null> {
  const idle = await backgroundLoad(1000);
  if (idle) log(`load        other processes use ${idle.otherCores.toFixed(2)} of ${idle.cores} cores before timing${isBusy(idle) ? '  <-- BUSY: timings will be noisy' : ''}`);
  return idle;
}

/** Prints the busy-machine warning when any timing ran under foreign load; returns whether all were quiet. */
export function warnIfBusy(log: Log, timings: Timing[], consequence = ['On 2 cores this inflates the times, the 2-thread torch peer most.', 'The numbers and ratios below are NOISY: rerun when the machine is quiet.']): boolean {
  const quiet = !timings.some((t) => isBusy(t.load));
  if (quiet) return true;
  const busiest = Math.max(0, ...timings.map((t) => t.load?.otherCores ?? 0));
  const bar = '~'.repeat(78);
  log(bar);
  log(`~~ WARNING: the machine was BUSY while timing: other processes used up to ${busiest.toFixed(2)} cores`);
  log(`~~ (threshold ${BUSY_THRESHOLD_CORES}). ${consequence[0]}`);
  for (const line of consequence.slice(1)) log(`~~ ${line}`);
  log(bar);
  return false;
}
