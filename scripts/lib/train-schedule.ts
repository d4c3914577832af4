/**
 * Which rows a training step uses. A step's rows depend only on (seed, salt, step): each
 * pool is walked in an order reshuffled every epoch, so a resumed run sees exactly the
 * batches an uninterrupted one would, whatever was trained before.
 */
import { makeRng, shuffleInPlace } from '../../src/core/random';

const orderCache = new Map<string, number[]>();

function epochOrder(n: number, seed: number): number[] {
  const key = `${n}:${seed}`;
  let order = orderCache.get(key);
  if (!order) {
    if (orderCache.size > 8) orderCache.clear();
    order = shuffleInPlace([...Array(n).keys()], makeRng(seed));
    orderCache.set(key, order);
  }
  return order;
}

/** The `perBatch` rows of `pool` for `step`; `salt` keeps several pools of one run independent. */
export function rowsForStep<T>(pool: T[], perBatch: number, step: number, seed: number, salt: number): T[] {
  const start = step * perBatch;
  const out: T[] = [];
  for (let i = start; i < start + perBatch; i++) {
    const epoch = Math.floor(i / pool.length);
    const order = epochOrder(pool.length, seed * 7919 + salt * 104729 + epoch);
    out.push(pool[order[i % pool.length]]);
  }
  return out;
}
