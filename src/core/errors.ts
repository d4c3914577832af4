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

/**
 * Lets the event loop run (a macrotask, not a microtask), so that a worker between units of
 * work can receive a cancel, pause or stop message.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, 0));

export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}

/** Plain-JSON form of any thrown value, for the worker boundary and the CLI. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof FactlabError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}

/**
 * A short JSON-like preview of a value from an outside file, for error messages. Unlike
 * JSON.stringify it cannot overflow the stack on deeply nested input (JSON.parse accepts
 * 100 000 levels, JSON.stringify does not) and it never returns more than `max` characters.
 */
export function previewValue(value: unknown, max = 80): string {
  let out = '';
  const write = (v: unknown, depth: number): void => {
    if (out.length > max) return;
    if (Array.isArray(v)) {
      if (depth >= 8) { out += '[…]'; return; }
      out += '[';
      v.forEach((x, i) => { if (out.length <= max) { if (i) out += ', '; write(x, depth + 1); } });
      out += ']';
    } else if (typeof v === 'object' && v !== null) {
      if (depth >= 8) { out += '{…}'; return; }
      out += '{';
      Object.entries(v).forEach(([k, x], i) => { if (out.length <= max) { out += `${i ? ', ' : ''}${JSON.stringify(k)}: `; write(x, depth + 1); } });
      out += '}';
    } else {
      out += v === undefined ? 'undefined' : typeof v === 'bigint' ? String(v) : JSON.stringify(v);
    }
  };
  write(value, 0);
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}
