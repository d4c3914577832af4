/**
 * One error type for everything a user can get wrong (files, links, prompts, options).
 * `code` is stable for tests and the UI; `message` says what was wrong and what to do.
 */
export class FactlabError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FactlabError';
  }
}

export class CancelledError extends FactlabError {
  constructor(what = 'operation') {
    super('cancelled', `The ${what} was cancelled.`);
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}

/** Plain-JSON form of any thrown value, for the worker boundary and the CLI. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof FactlabError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}
