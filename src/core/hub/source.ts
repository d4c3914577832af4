/**
 * Where a checkpoint comes from, parsed from one string a user can type (CLI flag,
 * URL box, permalink) or built from files picked/dropped in the browser.
 *
 *   default                          the embedded model (location supplied by the caller)
 *   https://host/path/to/folder      a folder URL holding config.json, model.safetensors, …
 *   owner/name@revision, name@rev    a Hugging Face Hub repo at a revision
 *   owner/name, name                 the same at `main` (accepted, but `pinned: false`)
 *   ./dir, /abs/dir, a/b/c, ~/dir    a local folder (Node only)
 *   hub:… url:… folder:…             explicit forms (what `sourceId` returns parses back)
 *
 * Parsing is pure: no file system or network access.
 */
import { FactlabError } from '../errors';

/** What a browser `File` provides (and what tests can fake). `name` may carry a relative path. */
export interface FileLike {
  name: string;
  size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type ModelSource =
  /** The embedded models: the default GPT-2, or with `arch: 'bert'` the default BERT beside it. */
  | { kind: 'default'; arch?: 'bert' }
  | { kind: 'folder'; path: string }
  | { kind: 'url'; url: string }
  | {
      kind: 'hub';
      repo: string;
      revision: string;
      /** True only when the revision is a full 40-hex commit sha, i.e. the content cannot change. */
      pinned: boolean;
    }
  | { kind: 'files'; files: FileLike[] };

export interface ParseModelSourceOptions {
  /**
   * Called for a bare spec that could be either a Hub repo id or a relative folder
   * (e.g. `gpt2`, `models/tiny`); return true to read it as a folder. The CLI passes an
   * fs existence check; without it such specs are Hub repo ids.
   */
  localExists?: (path: string) => boolean;
}

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

const REPO_PART = /^[A-Za-z0-9._-]+$/;
const REVISION = /^[A-Za-z0-9._/-]+$/;
const COMMIT_SHA = /^[0-9a-f]{40}$/;
const HUB_HOSTS = new Set(['huggingface.co', 'www.huggingface.co', 'hf.co']);
const HUB_NON_MODEL_SECTIONS = new Set(['datasets', 'spaces', 'api', 'docs', 'blog', 'settings', 'organizations', 'models']);

function badSource(message: string): FactlabError {
  return new FactlabError('bad-model-source', message);
}

const FORMS_HINT =
  'Use "default" (or "default-bert"), a Hub repo id with a revision (owner/name@revision), an http(s):// folder URL, or a local folder path.';

export function parseModelSource(spec: string, options: ParseModelSourceOptions = {}): ModelSource {
  if (typeof spec !== 'string') throw badSource(`Model source must be a string. ${FORMS_HINT}`);
  const s = spec.trim();
  if (s === '') throw badSource(`Model source is empty. ${FORMS_HINT}`);
  if (s === 'default') return { kind: 'default' };
  if (s === 'default-bert') return { kind: 'default', arch: 'bert' };

  const prefixed = /^(hub|url|folder):(.*)$/s.exec(s);
  if (prefixed) {
    const rest = prefixed[2].trim();
    if (rest === '') throw badSource(`Model source "${s}" has nothing after "${prefixed[1]}:". ${FORMS_HINT}`);
    if (prefixed[1] === 'hub') return parseHubSpec(rest, s);
    if (prefixed[1] === 'url') return parseUrlSpec(rest);
    return { kind: 'folder', path: resolveLocalPath(rest) };
  }

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name !== 'http' && name !== 'https') {
      throw badSource(`Model source "${s}" uses ${name}://, which factlab cannot download from. ${FORMS_HINT}`);
    }
    return parseUrlSpec(s);
  }

  if (looksLikePath(s)) return { kind: 'folder', path: resolveLocalPath(s) };
  if (s.includes('@')) return parseHubSpec(s, s);
  if (isRepoId(s)) {
    if (options.localExists?.(s)) return { kind: 'folder', path: resolveLocalPath(s) };
    return { kind: 'hub', repo: s, revision: 'main', pinned: false };
  }
  return { kind: 'folder', path: resolveLocalPath(s) };
}

function looksLikePath(s: string): boolean {
  return s.startsWith('/') || s.startsWith('.') || s.startsWith('~') || s.includes('\\') || /^[A-Za-z]:[\\/]/.test(s);
}

/** A Hub repo id: `name` or `owner/name`, letters, digits, `.`, `_`, `-`. */
export function isRepoId(repo: string): boolean {
  return repoIdProblem(repo) === null;
}

function repoIdProblem(repo: string): string | null {
  if (repo === '') return 'the repo id is empty';
  const parts = repo.split('/');
  if (parts.some((p) => p === '')) return 'the owner and name must not be empty';
  if (parts.length > 2) return `a repo id has at most one "/" (owner/name), got ${parts.length - 1}`;
  if (repo.length > 96) return 'a repo id has at most 96 characters';
  for (const part of parts) {
    if (!REPO_PART.test(part)) return 'a repo id may contain only letters, digits, ".", "_" and "-"';
    if (/^[.-]|[.-]$/.test(part) || part.includes('..') || part.includes('--')) {
      return 'owner and name must not start or end with "." or "-", nor contain ".." or "--"';
    }
  }
  return null;
}

function revisionProblem(revision: string): string | null {
  if (revision === '') return 'the revision after "@" is empty';
  if (revision.length > 256) return 'the revision is too long';
  if (!REVISION.test(revision)) return 'a revision may contain only letters, digits, ".", "_", "-" and "/"';
  if (revision.startsWith('/') || revision.endsWith('/') || revision.split('/').some((p) => p === '..' || p === '.' || p === '')) {
    return 'the revision is not a valid branch, tag or commit name';
  }
  return null;
}

function parseHubSpec(spec: string, original: string): ModelSource {
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? undefined : spec.slice(at + 1);
  if (repo === '') throw badSource(`Model source "${original}" has a revision but no repo id before "@"; write owner/name@revision.`);
  const repoProblem = repoIdProblem(repo);
  if (repoProblem) throw badSource(`Model source "${original}" is not a valid Hub repo id: ${repoProblem}. ${FORMS_HINT}`);
  if (revision === undefined) return { kind: 'hub', repo, revision: 'main', pinned: false };
  const revProblem = revisionProblem(revision);
  if (revProblem) throw badSource(`Model source "${original}": ${revProblem}. Write owner/name@<commit sha, tag or branch>.`);
  return { kind: 'hub', repo, revision, pinned: COMMIT_SHA.test(revision) };
}

function parseUrlSpec(spec: string): ModelSource {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw badSource(`Model source "${spec}" is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badSource(`Model source "${spec}" uses ${url.protocol}//, which factlab cannot download from. ${FORMS_HINT}`);
  }
  if (url.hostname === '') throw badSource(`Model source "${spec}" has no host name.`);
  if (url.search || url.hash) {
    throw badSource(`Model source "${spec}" has a ?query or #fragment; give the plain URL of the folder that holds config.json.`);
  }
  const hub = hubSourceFromUrl(url);
  if (hub) return hub;
  const href = url.href.replace(/\/+$/, '');
  return { kind: 'url', url: href };
}

/** https://huggingface.co/owner/name[/tree|resolve|blob/<rev>] → a Hub source (pages people paste). */
function hubSourceFromUrl(url: URL): ModelSource | null {
  if (!HUB_HOSTS.has(url.hostname) || url.protocol !== 'https:') return null;
  let segments: string[];
  try {
    segments = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  } catch {
    return null;
  }
  if (segments.length === 0 || HUB_NON_MODEL_SECTIONS.has(segments[0])) return null;
  const marker = segments.findIndex((p) => p === 'tree' || p === 'resolve' || p === 'blob');
  let repo: string;
  let revision: string | undefined;
  if (marker === 1 || marker === 2) {
    repo = segments.slice(0, marker).join('/');
    revision = segments[marker + 1];
    if (revision === undefined) return null;
  } else if (marker === -1 && segments.length <= 2) {
    repo = segments.join('/');
  } else {
    return null;
  }
  if (!isRepoId(repo)) return null;
  if (revision === undefined) return { kind: 'hub', repo, revision: 'main', pinned: false };
  if (revisionProblem(revision)) return null;
  return { kind: 'hub', repo, revision, pinned: COMMIT_SHA.test(revision) };
}

/** URL of one file of a Hub repo at a revision. */
export function hubFileUrl(repo: string, revision: string, file: string, endpoint = DEFAULT_HUB_ENDPOINT): string {
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${encodeURIComponent(file)}`;
}

/** Stable key for caches and results: `hub:owner/name@rev`, `url:<url>`, `folder:<abs path>`, `default`, `files:…`. */
export function sourceId(source: ModelSource): string {
  switch (source.kind) {
    case 'default':
      return source.arch === 'bert' ? 'default-bert' : 'default';
    case 'hub':
      return `hub:${source.repo}@${source.revision}`;
    case 'url':
      return `url:${source.url}`;
    case 'folder':
      return `folder:${resolveLocalPath(source.path)}`;
    case 'files': {
      const names = source.files.map((f) => `${basename(f.name)}:${f.size}`).sort();
      return `files:${names.join(',')}`;
    }
  }
}

/** Short human description for messages and the UI. */
export function describeSource(source: ModelSource): string {
  switch (source.kind) {
    case 'default':
      return source.arch === 'bert' ? 'the embedded default BERT' : 'the embedded default model';
    case 'hub':
      return `Hub repo ${source.repo}@${source.revision}`;
    case 'url':
      return source.url;
    case 'folder':
      return `folder ${source.path}`;
    case 'files':
      return `${source.files.length} selected file(s)`;
  }
}

/** Last path component, for `/` and `\` separators (dropped folders give relative paths). */
export function basename(name: string): string {
  const parts = name.split(/[\\/]/).filter((p) => p !== '');
  return parts.length ? parts[parts.length - 1] : '';
}

function nodeProcess(): { cwd(): string; env: Record<string, string | undefined> } | undefined {
  const p = (globalThis as { process?: { versions?: { node?: string }; cwd?: () => string; env?: Record<string, string | undefined> } }).process;
  if (!p?.versions?.node || typeof p.cwd !== 'function') return undefined;
  return { cwd: () => p.cwd!(), env: p.env ?? {} };
}

/**
 * Absolute, normalised form of a local path (POSIX rules; Windows paths are kept as given).
 * Pure string work so this module stays free of `node:` imports.
 */
export function resolveLocalPath(path: string): string {
  if (path.includes('\\') || /^[A-Za-z]:/.test(path)) return path;
  const proc = nodeProcess();
  let p = path;
  if ((p === '~' || p.startsWith('~/')) && proc?.env.HOME) p = proc.env.HOME + p.slice(1);
  if (!p.startsWith('/')) {
    if (!proc) return path;
    p = `${proc.cwd()}/${p}`;
  }
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return '/' + out.join('/');
}
