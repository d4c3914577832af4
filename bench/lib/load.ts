/**
 * How busy the machine was while a benchmark ran. On 2 cores, any other process (a dev
 * server, a browser, a test run) steals a large share: 2-thread OpenMP code such as the
 * torch peer is hit hardest, since each barrier waits for the descheduled thread.
 *
 * From /proc/stat (whole machine) and the process's own CPU time over the same interval:
 * otherCores = machine busy cores − own cores, on average over the interval. The peers
 * measure the same way (bench/peers/benchlib.py), so both engines report comparable numbers.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuLoad {
  wallMs: number;
  /** Average cores busy across the whole machine (including steal time). */
  machineBusyCores: number;
  /** Average cores this process used. */
  ownCores: number;
  /** Average cores used by everything else: the contamination. */
  otherCores: number;
  cores: number;
}

/** Above this many cores of foreign load during a timing, its numbers are flagged. */
export const BUSY_THRESHOLD_CORES = 0.25;

interface Jiffies {
  busy: number;
  total: number;
}

function readJiffies(): Jiffies | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [, user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq + (steal || 0);
    return { busy, total: busy + idle + (iowait || 0) };
  } catch {
    return null; // not Linux: no load report
  }
}

export interface LoadProbe {
  stop(): CpuLoad | null;
}

/** Starts measuring; `stop()` returns the averages since start (null where /proc/stat is missing). */
export function startLoadProbe(): LoadProbe {
  const j0 = readJiffies();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop() {
      const j1 = readJiffies();
      const own = process.cpuUsage(c0);
      const wallMs = performance.now() - t0;
      if (!j0 || !j1 || j1.total <= j0.total || wallMs <= 0) return null;
      const cores = cpus().length;
      const machineBusyCores = ((j1.busy - j0.busy) / (j1.total - j0.total)) * cores;
      const ownCores = (own.user + own.system) / 1000 / wallMs;
      return { wallMs, machineBusyCores, ownCores, otherCores: Math.max(0, machineBusyCores - ownCores), cores };
    },
  };
}

/** Foreign load on an idle wait of `ms`: shows whether the machine is quiet before timing starts. */
export async function backgroundLoad(ms = 1000): Promise<CpuLoad | null> {
  const probe = startLoadProbe();
  await new Promise((r) => setTimeout(r, ms));
  return probe.stop();
}

export function isBusy(load: CpuLoad | null | undefined): boolean {
  return !!load && load.otherCores > BUSY_THRESHOLD_CORES;
}
