/**
 * FileProvider: "give me file X of this checkpoint" for every kind of source, so the
 * checkpoint loader does not care where bytes come from.
 *   folder      Node fs (imported lazily so the browser bundle never loads it)
 *   url, hub    fetchFile, through the browser cache when there is one
 *   files       a list of File-like objects (picker / drag and drop)
 *   default     a folder or a URL chosen by the caller (`defaultLocation`)
 */
import { CancelledError, FactlabError, throwIfAborted } from '../errors';
import { ModelCache, sha256Hex, type CacheStorageLike } from './cache';
import { DEFAULT_STALL_TIMEOUT_MS, fetchResource, formatBytes, probeFile } from './fetch';
import { basename, DEFAULT_HUB_ENDPOINT, describeSource, hubFileUrl, resolveLocalPath, sourceId, type FileLike, type ModelSource } from './source';

export interface FileGetOptions {
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number | undefined) => void;
  /** Refuse files larger than this. */
  maxBytes?: number;
  /** Called when the file came from the browser cache instead of the network. */
  onCacheHit?: () => void;
}

export interface FileProvider {
  /** `sourceId` of the source. */
  id: string;
  /** Human description for messages ("Hub repo gpt2@main", "folder /x", …). */
  description: string;
  /** The file's bytes, or null when the source has no such file. */
  get(name: string, opts?: FileGetOptions): Promise<Uint8Array | null>;
  /** Whether the file exists, without reading it (undefined when that cannot be told). */
  has(name: string, opts?: { signal?: AbortSignal }): Promise<boolean | undefined>;
}

/** Where the embedded default model lives: a string (URL in the browser, path in Node) or explicit. */
export type DefaultLocation = string | { url: string } | { folder: string };

export interface FileProviderOptions {
  defaultLocation?: DefaultLocation;
  /** A ModelCache, a CacheStorage-like object, null to disable; default: the browser's `caches` if any. */
  cache?: ModelCache | CacheStorageLike | null;
  /** Base URL of the Hugging Face Hub (default https://huggingface.co). */
  hubEndpoint?: string;
  /** No-bytes timeout for downloads (default 30 s). */
  stallTimeoutMs?: number;
}

export function createFileProvider(source: ModelSource, options: FileProviderOptions = {}): FileProvider {
  const id = sourceId(source);
  const description = describeSource(source);
  switch (source.kind) {
    case 'folder':
      return folderProvider(source.path, id, description);
    case 'files':
      return filesProvider(source.files, id, description);
    case 'url':
      return urlProvider((name) => joinUrl(source.url, name), id, description, toModelCache(options.cache), false, options.stallTimeoutMs);
    case 'hub': {
      const endpoint = options.hubEndpoint ?? DEFAULT_HUB_ENDPOINT;
      return urlProvider((name) => hubFileUrl(source.repo, source.revision, name, endpoint), id, description, toModelCache(options.cache), source.pinned, options.stallTimeoutMs);
    }
    case 'default': {
      const location = embeddedLocation(resolveDefaultLocation(options.defaultLocation), source.arch);
      // The default model ships with the app: the browser's HTTP cache is enough, and a
      // Cache API copy would go stale when the app updates the model.
      if ('folder' in location) return folderProvider(location.folder, id, description);
      return urlProvider((name) => joinUrl(location.url, name), id, description, new ModelCache(null), false, options.stallTimeoutMs);
    }
  }
}

function toModelCache(cache: ModelCache | CacheStorageLike | null | undefined): ModelCache {
  return cache instanceof ModelCache ? cache : new ModelCache(cache);
}

function isNode(): boolean {
  return !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
}

function resolveDefaultLocation(location: DefaultLocation | undefined): { url: string } | { folder: string } {
  if (location === undefined) {
    throw new FactlabError('no-default-model', 'No location was given for the default model (defaultLocation); this is a bug in the caller.');
  }
  if (typeof location !== 'string') return location;
  if (/^https?:\/\//i.test(location)) return { url: location };
  if (isNode()) return { folder: location };
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  return { url: base ? new URL(location, base).href : location };
}

/** The embedded BERT lives beside the default GPT-2 (`models/default/` → `models/bert-default/`). */
function embeddedLocation(gpt2: { url: string } | { folder: string }, arch: 'bert' | undefined): { url: string } | { folder: string } {
  if (arch !== 'bert') return gpt2;
  if ('url' in gpt2) return { url: new URL(`../${BERT_FOLDER}/`, gpt2.url.replace(/\/*$/, '/')).href };
  return { folder: `${gpt2.folder.replace(/[\\/]+$/, '').replace(/[^\\/]+$/, '')}${BERT_FOLDER}` };
}

const BERT_FOLDER = 'bert-default';

function joinUrl(base: string, name: string): string {
  const encoded = name.split('/').map(encodeURIComponent).join('/');
  return `${base.replace(/\/+$/, '')}/${encoded}`;
}

/** File names a checkpoint may ask for: plain names, no directories, nothing hidden. */
export function checkFileName(name: string): void {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name) || name.length > 255) {
    throw new FactlabError('bad-file-name', `Refusing to read "${name}": checkpoint files must be plain file names in the model folder.`);
  }
}

function tooLarge(name: string, size: number, max: number): FactlabError {
  return new FactlabError('too-large', `${name} is ${formatBytes(size)}, more than the limit of ${formatBytes(max)}.`);
}

function folderProvider(path: string, id: string, description: string): FileProvider {
  const root = resolveLocalPath(path);
  const nodeFs = async () => {
    if (!isNode()) {
      throw new FactlabError('unsupported-source', `Local folders can only be read by the command-line tool. In the browser, pick or drop the model files instead (${root}).`);
    }
    // A computed specifier keeps bundlers from pulling node:fs into the browser build.
    const specifier = 'node:fs/promises';
    return (await import(/* @vite-ignore */ specifier)) as typeof import('node:fs/promises');
  };
  const full = (name: string) => `${root.replace(/[\\/]+$/, '')}/${name}`;
  return {
    id,
    description,
    async has(name, opts = {}) {
      checkFileName(name);
      throwIfAborted(opts.signal);
      const fs = await nodeFs();
      try {
        return (await fs.stat(full(name))).isFile();
      } catch {
        return false;
      }
    },
    async get(name, opts = {}) {
      checkFileName(name);
      throwIfAborted(opts.signal, `reading of ${name}`);
      const fs = await nodeFs();
      const file = full(name);
      let size: number;
      try {
        const stat = await fs.stat(file);
        if (!stat.isFile()) {
          throw new FactlabError('bad-file', `${file} is not a regular file.`);
        }
        size = stat.size;
      } catch (err) {
        if (err instanceof FactlabError) throw err;
        const code = (err as { code?: string }).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          if (code === 'ENOTDIR' || !(await isDirectory(fs, root))) {
            throw new FactlabError('not-found', `Model folder ${root} does not exist or is not a folder.`);
          }
          return null;
        }
        throw new FactlabError('read-failed', `Could not read ${file}: ${(err as Error).message}`);
      }
      if (opts.maxBytes !== undefined && size > opts.maxBytes) throw tooLarge(name, size, opts.maxBytes);
      opts.onProgress?.(0, size);
      let data: Uint8Array;
      try {
        const buffer = await fs.readFile(file, { signal: opts.signal });
        data = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (err) {
        if (opts.signal?.aborted) throw new CancelledError(`reading of ${name}`);
        throw new FactlabError('read-failed', `Could not read ${file}: ${(err as Error).message}`);
      }
      opts.onProgress?.(data.byteLength, size);
      return data;
    },
  };
}

async function isDirectory(fs: typeof import('node:fs/promises'), path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function filesProvider(files: FileLike[], id: string, description: string): FileProvider {
  // A dropped folder gives relative paths ("gpt2/onnx/config.json"): index by basename,
  // preferring the shallowest path; two equally shallow files with one name are ambiguous.
  const byName = new Map<string, { file: FileLike; depth: number; ambiguous: boolean }>();
  for (const file of files) {
    const name = basename(file.name);
    if (!name) continue;
    const depth = file.name.split(/[\\/]/).filter((p) => p !== '').length;
    const known = byName.get(name);
    if (!known || depth < known.depth) byName.set(name, { file, depth, ambiguous: false });
    else if (depth === known.depth) known.ambiguous = true;
  }
  const lookup = (name: string): FileLike | null => {
    const entry = byName.get(name);
    if (!entry) return null;
    if (entry.ambiguous) {
      throw new FactlabError('ambiguous-files', `More than one selected file is called ${name}; select the files of one model only.`);
    }
    return entry.file;
  };
  return {
    id,
    description,
    async has(name) {
      return byName.has(name);
    },
    async get(name, opts = {}) {
      throwIfAborted(opts.signal, `reading of ${name}`);
      const file = lookup(name);
      if (!file) return null;
      if (opts.maxBytes !== undefined && file.size > opts.maxBytes) throw tooLarge(name, file.size, opts.maxBytes);
      opts.onProgress?.(0, file.size);
      let buffer: ArrayBuffer;
      try {
        buffer = await file.arrayBuffer();
      } catch (err) {
        throw new FactlabError('read-failed', `Could not read the selected file ${file.name}: ${(err as Error).message}`);
      }
      throwIfAborted(opts.signal, `reading of ${name}`);
      opts.onProgress?.(buffer.byteLength, file.size);
      return new Uint8Array(buffer);
    },
  };
}

/**
 * Files over HTTP, through the cache. A 404 is remembered as "absent", but only an
 * `immutable` source (a Hub commit) trusts that for good: a branch or a plain URL may gain
 * the file later, so there the marker is used only when the server cannot be reached.
 */
function urlProvider(
  urlOf: (name: string) => string,
  id: string,
  description: string,
  cache: ModelCache,
  immutable: boolean,
  stallTimeoutMs = DEFAULT_STALL_TIMEOUT_MS,
): FileProvider {
  return {
    id,
    description,
    async has(name, opts = {}) {
      checkFileName(name);
      const cached = await cache.get(id, name);
      if (cached.status === 'hit') return true;
      if (cached.status === 'absent' && immutable) return false;
      const found = await probeFile(urlOf(name), { signal: opts.signal, stallTimeoutMs });
      return found === undefined && cached.status === 'absent' ? false : found;
    },
    async get(name, opts = {}) {
      checkFileName(name);
      throwIfAborted(opts.signal, `download of ${name}`);
      const cached = await cache.get(id, name);
      if (cached.status === 'absent' && immutable) return null;
      if (cached.status === 'hit') {
        if (opts.maxBytes !== undefined && cached.bytes.byteLength > opts.maxBytes) throw tooLarge(name, cached.bytes.byteLength, opts.maxBytes);
        opts.onCacheHit?.();
        opts.onProgress?.(cached.bytes.byteLength, cached.bytes.byteLength);
        return cached.bytes;
      }
      let resource: Awaited<ReturnType<typeof fetchResource>>;
      try {
        resource = await fetchResource(urlOf(name), {
          signal: opts.signal,
          onProgress: opts.onProgress,
          maxBytes: opts.maxBytes,
          stallTimeoutMs,
          label: name,
        });
      } catch (err) {
        // Offline: what the source lacked last time is the best answer there is.
        if (cached.status === 'absent' && err instanceof FactlabError && err.code === 'unreachable') return null;
        throw err;
      }
      if (!resource) {
        await cache.putAbsent(id, name);
        return null;
      }
      let sha256: string | undefined;
      // An X-Linked-Etag is the Hub's statement of the file's SHA-256: always check it.
      // A plain ETag may be anything: only keep it when it matches (and only when caching).
      if (resource.sha256 && (resource.sha256Header === 'x-linked-etag' || cache.enabled)) {
        const actual = await sha256Hex(resource.bytes);
        throwIfAborted(opts.signal, `download of ${name}`);
        if (actual !== undefined && actual === resource.sha256) sha256 = actual;
        else if (actual !== undefined && resource.sha256Header === 'x-linked-etag') {
          throw new FactlabError(
            'corrupt-download',
            `${name} from ${description} does not match the SHA-256 the server announced (${resource.sha256.slice(0, 12)}…); the download is corrupt. Try again.`,
          );
        }
      }
      await cache.put(id, name, resource.bytes, sha256 ? { sha256 } : {});
      return resource.bytes;
    },
  };
}
