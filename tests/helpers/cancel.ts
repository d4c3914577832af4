/** A signal that reads as aborted from its k-th check on: cancels at every point in turn, deterministically. */
export function abortAtCheck(k: number): { signal: AbortSignal; checks: () => number } {
  let checks = 0;
  const signal = { get aborted() { return ++checks >= k; }, addEventListener() {}, removeEventListener() {} } as unknown as AbortSignal;
  return { signal, checks: () => checks };
}
