/**
 * The one module in factlab that calls `fetch`. Everything downloaded (checkpoints,
 * tokenizers, fact sets by URL) goes through `fetchFile`/`fetchResource`, which:
 *  - return null on HTTP 404 so callers can try alternatives,
 *  - stream the body, reporting progress,
 *  - enforce a size limit and the Content-Length the server announced,
 *  - give up when no bytes arrive for `stallTimeoutMs` (default 30 s), so nothing hangs,
 *  - turn an AbortSignal into CancelledError, and network trouble into clear messages.
 */
import { CancelledError, FactlabError, throwIfAborted } from '../errors';

export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export interface FetchFileOptions {
  signal?: AbortSignal;
  /** Bytes received so far and the announced size (undefined when the server does not say). */
  onProgress?: (loaded: number, total: number | undefined) => void;
  /** Refuse bodies larger than this (checked against Content-Length first, then while streaming). */
  maxBytes?: number;
  /** Fail when no bytes (headers or body) arrive for this long. Default 30 000 ms; 0 disables. */
  stallTimeoutMs?: number;
  /** Name used in messages (default: the last segment of the URL path). */
  label?: string;
}

export interface FetchedResource {
  bytes: Uint8Array;
  /** URL after redirects. */
  url: string;
  /**
   * SHA-256 (lower-case hex) of the content as the server states it: Hugging Face sends it
   * in `X-Linked-Etag` for LFS files (authoritative); some servers use it as the `ETag`
   * (a hint only: an ETag need not be a content hash).
   */
  sha256?: string;
  sha256Header?: 'x-linked-etag' | 'etag';
}

/** An HTTP answer other than 2xx or 404. */
export class HttpError extends FactlabError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('http-error', message);
    this.name = 'HttpError';
  }
}

/** Downloads `url`; null on 404. */
export async function fetchFile(url: string, options: FetchFileOptions = {}): Promise<Uint8Array | null> {
  const resource = await fetchResource(url, options);
  return resource ? resource.bytes : null;
}

/** Like `fetchFile`, with the final URL and any content hash the server announced. */
export async function fetchResource(url: string, options: FetchFileOptions = {}): Promise<FetchedResource | null> {
  const label = options.label ?? labelOf(url);
  const host = hostOf(url);
  const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
  throwIfAborted(options.signal, `download of ${label}`);
  const watchdog = new Watchdog(options.signal, options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS);
  const fail = (err: unknown, what: () => FactlabError): never => {
    if (options.signal?.aborted) throw new CancelledError(`download of ${label}`);
    if (watchdog.timedOut) throw watchdog.timeoutError(host, label);
    if (err instanceof FactlabError) throw err;
    throw what();
  };
  let finished = false;
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: watchdog.controller.signal, redirect: 'follow' });
    } catch (err) {
      fail(err, () => unreachable(host, err));
      throw err; // unreachable: `fail` always throws
    }
    watchdog.kick();
    if (response.status === 404) {
      await discardBody(response);
      finished = true;
      return null;
    }
    if (!response.ok) {
      await discardBody(response);
      throw httpError(response, host, label, url);
    }

    const total = announcedLength(response);
    if (total !== undefined && total > maxBytes) {
      throw new FactlabError('too-large', `${label} from ${host} is ${formatBytes(total)}, more than the limit of ${formatBytes(maxBytes)}.`);
    }
    let buffer: Uint8Array | null = null;
    if (total !== undefined) {
      try {
        buffer = new Uint8Array(total);
      } catch {
        throw new FactlabError('too-large', `Not enough memory to download ${label} (${formatBytes(total)}).`);
      }
    }
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    options.onProgress?.(0, total);
    const body = response.body;
    if (body) {
      const reader = body.getReader();
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            fail(err, () => brokenOff(host, label, loaded, total, err));
            throw err;
          }
          if (chunk.done) break;
          const value = chunk.value;
          watchdog.kick();
          if (loaded + value.byteLength > maxBytes) {
            throw new FactlabError('too-large', `${label} from ${host} is larger than the limit of ${formatBytes(maxBytes)}; stopped the download.`);
          }
          if (buffer && loaded + value.byteLength <= buffer.byteLength) {
            buffer.set(value, loaded);
          } else {
            // More bytes than announced: only possible when a transfer encoding the browser
            // hides from us (compressed text) was undone; keep the bytes as they come.
            if (buffer) {
              chunks.push(buffer.subarray(0, loaded));
              buffer = null;
            }
            chunks.push(value);
          }
          loaded += value.byteLength;
          options.onProgress?.(loaded, buffer ? total : undefined);
        }
      } finally {
        if (!finished) reader.cancel().catch(() => {});
      }
    }
    throwIfAborted(options.signal, `download of ${label}`);
    let bytes: Uint8Array;
    if (buffer) {
      if (loaded < buffer.byteLength) {
        throw new FactlabError(
          'truncated',
          `Download of ${label} from ${host} ended after ${formatBytes(loaded)} but the server announced ${formatBytes(buffer.byteLength)}; the file is truncated. Try again.`,
        );
      }
      bytes = buffer;
    } else {
      bytes = concat(chunks, loaded);
    }
    finished = true;
    const linked = sha256FromHeader(response.headers.get('x-linked-etag'));
    const etag = linked ? undefined : sha256FromHeader(response.headers.get('etag'));
    const result: FetchedResource = { bytes, url: response.url || url };
    if (linked) {
      result.sha256 = linked;
      result.sha256Header = 'x-linked-etag';
    } else if (etag) {
      result.sha256 = etag;
      result.sha256Header = 'etag';
    }
    return result;
  } finally {
    watchdog.dispose();
    if (!finished) watchdog.controller.abort();
  }
}

/**
 * Whether `url` exists (HEAD request): true on 2xx, false on 404, undefined when it
 * cannot be told (network error, other status). Only cancellation throws.
 */
export async function probeFile(url: string, options: Pick<FetchFileOptions, 'signal' | 'stallTimeoutMs'> = {}): Promise<boolean | undefined> {
  throwIfAborted(options.signal);
  const watchdog = new Watchdog(options.signal, options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS);
  try {
    const response = await fetch(url, { method: 'HEAD', signal: watchdog.controller.signal, redirect: 'follow' });
    await discardBody(response);
    if (response.ok) return true;
    if (response.status === 404) return false;
    return undefined;
  } catch {
    if (options.signal?.aborted) throw new CancelledError();
    return undefined;
  } finally {
    watchdog.dispose();
  }
}

/** Aborts an internal controller when the caller aborts or when no bytes arrive in time. */
class Watchdog {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly ms: number,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.kick();
  }

  kick(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (!(this.ms > 0) || !Number.isFinite(this.ms)) return;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.ms);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  timeoutError(host: string, label: string): FactlabError {
    const seconds = this.ms >= 1000 ? `${Math.round(this.ms / 100) / 10} s` : `${this.ms} ms`;
    return new FactlabError('timeout', `No data from ${host} for ${seconds} while downloading ${label}; gave up. Check the URL or your connection and try again.`);
  }
}

async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    /* nothing to do */
  }
}

function announcedLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding.trim().toLowerCase() !== 'identity') return undefined;
  const raw = response.headers.get('content-length');
  if (raw === null || !/^\s*\d+\s*$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function sha256FromHeader(value: string | null): string | undefined {
  if (!value) return undefined;
  const m = /^(?:W\/)?"?([0-9a-fA-F]{64})"?$/.exec(value.trim());
  return m ? m[1].toLowerCase() : undefined;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteLength === length) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function errorReason(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    if (current instanceof Error || (typeof current === 'object' && current !== null && 'message' in current)) {
      const e = current as { message?: unknown; code?: unknown; cause?: unknown };
      const code = typeof e.code === 'string' ? e.code : '';
      const message = typeof e.message === 'string' ? e.message : '';
      const text = code && !message.includes(code) ? `${message} (${code})` : message;
      if (text && !parts.includes(text)) parts.push(text);
      current = e.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  // "fetch failed: connect ECONNREFUSED 127.0.0.1:1" → keep the most specific part.
  return parts.length > 1 ? parts.slice(1).join(': ') : parts[0] ?? 'unknown error';
}

function unreachable(host: string, err: unknown): FactlabError {
  const reason = errorReason(err);
  const cors = /failed to fetch|networkerror|load failed/i.test(reason)
    ? ' If the server is up, it may not allow downloads from this page (CORS).'
    : '';
  return new FactlabError('unreachable', `Could not reach ${host}: ${reason}. Check the URL or your connection.${cors}`);
}

function brokenOff(host: string, label: string, loaded: number, total: number | undefined, err: unknown): FactlabError {
  const of = total !== undefined ? ` of ${formatBytes(total)}` : '';
  const code = total !== undefined && loaded < total ? 'truncated' : 'download-failed';
  return new FactlabError(code, `Download of ${label} from ${host} broke off after ${formatBytes(loaded)}${of}: ${errorReason(err)}. Try again.`);
}

function httpError(response: Response, host: string, label: string, url: string): HttpError {
  const status = response.status;
  let hint = '';
  if (status === 401 || status === 403) hint = ' The repository or file may not exist, or be private or gated.';
  else if (status === 429) hint = ' Too many requests; wait a minute and try again.';
  else if (status >= 500) hint = ' The server had a problem; try again later.';
  const text = response.statusText ? ` ${response.statusText}` : '';
  return new HttpError(status, `${host} answered HTTP ${status}${text} for ${label} (${url}).${hint}`);
}

function hostOf(url: string): string {
  try {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    return new URL(url, base).host || url;
  } catch {
    return url;
  }
}

function labelOf(url: string): string {
  const path = url.split(/[?#]/)[0];
  const last = path.split('/').filter((p) => p !== '').pop();
  try {
    return last ? decodeURIComponent(last) : url;
  } catch {
    return last ?? url;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? Math.round(value) : Math.round(value * 10) / 10} ${units[unit]}`;
}
