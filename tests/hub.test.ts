import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, FactlabError } from '../src/core/errors';
import {
  CACHE_NAME,
  cacheKey,
  clearAllCachedModels,
  clearCachedModel,
  createFileProvider,
  fetchFile,
  fetchResource,
  HttpError,
  hubFileUrl,
  listCachedModels,
  loadCheckpointFiles,
  ModelCache,
  parseModelSource,
  probeFile,
  sourceId,
  type CheckpointProgress,
  type FileLike,
  type ModelSource,
} from '../src/core/hub';
import { writeSafetensors } from '../src/core/model/safetensors';
import { gpt2ParamShapes } from '../src/core/model/weights';
import { TINY_CONFIG, TINY_MERGES, TINY_VOCAB_JSON, tinyTensors, writeTinyCheckpoint } from './helpers/hub-checkpoint';
import { MemoryCacheStorage } from './helpers/hub-memory-cache';
import { startTestServer, type TestServer } from './helpers/hub-server';

const SHA = '0123456789abcdef0123456789abcdef01234567';

let root: string;
let server: TestServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'factlab-hub-'));
  await writeTinyCheckpoint(join(root, 'tiny'));
  await writeTinyCheckpoint(join(root, 'prefixed'), { prefix: 'transformer.' });
  await writeTinyCheckpoint(join(root, 'sharded'), { shards: 3 });
  await writeTinyCheckpoint(join(root, 'tokjson'), { tokenizer: 'tokenizer.json' });
  server = await startTestServer(root);
});

afterAll(async () => {
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function expectError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<FactlabError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(FactlabError);
    const e = err as FactlabError;
    expect(e.code, e.message).toBe(code);
    if (message) expect(e.message).toMatch(message);
    return e;
  }
  throw new Error(`expected an error with code ${code}`);
}

function expectThrows(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FactlabError);
    expect((err as FactlabError).code).toBe(code);
    if (message) expect((err as FactlabError).message).toMatch(message);
    return;
  }
  throw new Error(`expected an error with code ${code}`);
}

function expectTinyTensors(tensors: Map<string, { shape: number[]; data: Float32Array }>, prefix = ''): void {
  const expected = tinyTensors(prefix);
  expect([...tensors.keys()].sort()).toEqual(Object.keys(expected).sort());
  for (const [name, t] of Object.entries(expected)) {
    const got = tensors.get(name)!;
    expect(got.shape).toEqual(t.shape);
    expect(Array.from(got.data)).toEqual(Array.from(t.data));
  }
}

function expectProgressWellFormed(events: CheckpointProgress[]): void {
  expect(events.length).toBeGreaterThan(0);
  for (let i = 1; i < events.length; i++) expect(events[i].fraction).toBeGreaterThanOrEqual(events[i - 1].fraction);
  for (const e of events) {
    expect(e.fraction).toBeGreaterThanOrEqual(0);
    expect(e.fraction).toBeLessThanOrEqual(1);
  }
  expect(events[events.length - 1].fraction).toBe(1);
}

describe('parseModelSource', () => {
  const cwd = process.cwd();
  const valid: Array<[string, ModelSource]> = [
    ['default', { kind: 'default' }],
    ['  default  ', { kind: 'default' }],
    ['default-bert', { kind: 'default', arch: 'bert' }],
    ['https://example.com/models/gpt2/', { kind: 'url', url: 'https://example.com/models/gpt2' }],
    ['http://127.0.0.1:8080/m', { kind: 'url', url: 'http://127.0.0.1:8080/m' }],
    ['HTTPS://Example.com/a//', { kind: 'url', url: 'https://example.com/a' }],
    [`openai-community/gpt2@${SHA}`, { kind: 'hub', repo: 'openai-community/gpt2', revision: SHA, pinned: true }],
    ['gpt2@main', { kind: 'hub', repo: 'gpt2', revision: 'main', pinned: false }],
    ['distilbert/distilgpt2@v1.0', { kind: 'hub', repo: 'distilbert/distilgpt2', revision: 'v1.0', pinned: false }],
    ['openai-community/gpt2@refs/pr/1', { kind: 'hub', repo: 'openai-community/gpt2', revision: 'refs/pr/1', pinned: false }],
    ['openai-community/gpt2', { kind: 'hub', repo: 'openai-community/gpt2', revision: 'main', pinned: false }],
    ['gpt2', { kind: 'hub', repo: 'gpt2', revision: 'main', pinned: false }],
    [`hub:gpt2@${SHA}`, { kind: 'hub', repo: 'gpt2', revision: SHA, pinned: true }],
    [`https://huggingface.co/openai-community/gpt2/tree/${SHA}`, { kind: 'hub', repo: 'openai-community/gpt2', revision: SHA, pinned: true }],
    ['https://huggingface.co/gpt2', { kind: 'hub', repo: 'gpt2', revision: 'main', pinned: false }],
    ['https://huggingface.co/datasets/foo/bar', { kind: 'url', url: 'https://huggingface.co/datasets/foo/bar' }],
    ['url:https://e.com/x/', { kind: 'url', url: 'https://e.com/x' }],
    ['/abs/path/model/', { kind: 'folder', path: '/abs/path/model' }],
    ['/abs/./path/../model', { kind: 'folder', path: '/abs/model' }],
    ['./models/x', { kind: 'folder', path: resolve(cwd, 'models/x') }],
    ['../x', { kind: 'folder', path: resolve(cwd, '../x') }],
    ['a/b/c', { kind: 'folder', path: resolve(cwd, 'a/b/c') }],
    ['my model', { kind: 'folder', path: resolve(cwd, 'my model') }],
    ['/tmp/x@y', { kind: 'folder', path: '/tmp/x@y' }],
    ['folder:/x/y', { kind: 'folder', path: '/x/y' }],
  ];
  it.each(valid)('parses %j', (spec, expected) => {
    expect(parseModelSource(spec)).toEqual(expected);
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['ftp://example.com/model', /ftp:\/\/.*cannot download/],
    ['file:///tmp/model', /file:\/\//],
    ['a/b/c@x', /at most one "\/"/],
    ['@rev', /no repo id/],
    ['gpt2@', /revision after "@" is empty/],
    ['gp t2@main', /only letters, digits/],
    ['owner/na$me@x', /only letters, digits/],
    ['owner//name@x', /must not be empty/],
    ['a/b/@x', /must not be empty/],
    ['-owner/name@x', /must not start or end/],
    ['gpt2@../x', /not a valid branch/],
    ['gpt2@a b', /revision may contain only/],
    ['hub:', /nothing after/],
    ['hub:a/b/c', /at most one/],
    ['https://example.com/x?token=1', /query/],
    ['https://', /not a valid URL/],
  ];
  it.each(invalid)('rejects %j', (spec, message) => {
    expectThrows(() => parseModelSource(spec), 'bad-model-source', message);
  });

  it('reads an ambiguous bare spec as a folder when localExists says so', () => {
    expect(parseModelSource('gpt2', { localExists: (p) => p === 'gpt2' })).toEqual({ kind: 'folder', path: resolve(cwd, 'gpt2') });
    expect(parseModelSource('gpt2@main', { localExists: () => true }).kind).toBe('hub');
  });

  it('gives stable source ids that parse back to the same source', () => {
    const sources = [`openai-community/gpt2@${SHA}`, 'https://example.com/m/', './models/x', 'gpt2'].map((s) => parseModelSource(s));
    expect(sources.map(sourceId)).toEqual([
      `hub:openai-community/gpt2@${SHA}`,
      'url:https://example.com/m',
      `folder:${resolve(cwd, 'models/x')}`,
      'hub:gpt2@main',
    ]);
    for (const s of sources) expect(parseModelSource(sourceId(s))).toEqual(s);
    expect(sourceId({ kind: 'default' })).toBe('default');
    const files: FileLike[] = [fakeFile('b/config.json', new Uint8Array(3)), fakeFile('a.json', new Uint8Array(1))];
    expect(sourceId({ kind: 'files', files })).toBe('files:a.json:1,config.json:3');
  });

  it('builds Hub file URLs', () => {
    expect(hubFileUrl('openai-community/gpt2', SHA, 'config.json')).toBe(`https://huggingface.co/openai-community/gpt2/resolve/${SHA}/config.json`);
    expect(hubFileUrl('gpt2', 'refs/pr/1', 'model.safetensors', 'http://h/')).toBe('http://h/gpt2/resolve/refs%2Fpr%2F1/model.safetensors');
  });
});

/** A port nothing listens on: bind an ephemeral port, then release it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

function fakeFile(name: string, bytes: Uint8Array): FileLike {
  return { name, size: bytes.byteLength, arrayBuffer: async () => bytes.slice().buffer };
}

describe('loadCheckpointFiles from a folder', () => {
  it('reads config, weights and tokenizer with monotone progress', async () => {
    const events: CheckpointProgress[] = [];
    const ckpt = await loadCheckpointFiles(parseModelSource(join(root, 'tiny')), { onProgress: (e) => events.push(e) });
    expect(ckpt.sourceId).toBe(`folder:${join(root, 'tiny')}`);
    expect((ckpt.configJson as Record<string, unknown>).n_layer).toBe(TINY_CONFIG.nLayer);
    expectTinyTensors(ckpt.tensors);
    expect(ckpt.tokenizer).toEqual({ vocabJson: TINY_VOCAB_JSON, mergesText: TINY_MERGES });
    expect(ckpt.metadata).toEqual({ format: 'pt' });
    expect(ckpt.files.map((f) => f.name)).toEqual(['config.json', 'vocab.json', 'merges.txt', 'model.safetensors']);
    const size = (await readFile(join(root, 'tiny', 'model.safetensors'))).byteLength;
    expect(ckpt.files[3].bytes).toBe(size);
    expectProgressWellFormed(events);
    expect(events.some((e) => e.stage === 'download' && e.file === 'model.safetensors')).toBe(true);
    expect(events.some((e) => e.stage === 'parse' && e.file === 'model.safetensors')).toBe(true);
  });

  it('keeps tensor names as stored (the transformer. prefix is for the weights layer)', async () => {
    const ckpt = await loadCheckpointFiles({ kind: 'folder', path: join(root, 'prefixed') });
    expectTinyTensors(ckpt.tensors, 'transformer.');
  });

  it('reads sharded checkpoints, each shard once', async () => {
    const ckpt = await loadCheckpointFiles({ kind: 'folder', path: join(root, 'sharded') });
    expectTinyTensors(ckpt.tensors);
    expect(ckpt.files.map((f) => f.name)).toEqual([
      'config.json',
      'vocab.json',
      'merges.txt',
      'model.safetensors.index.json',
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
    ]);
    expect(ckpt.tensors.size).toBe(gpt2ParamShapes(TINY_CONFIG).size);
  });

  it('accepts tokenizer.json alone and reads vocab.txt for BERT', async () => {
    const ckpt = await loadCheckpointFiles({ kind: 'folder', path: join(root, 'tokjson') });
    expect(Object.keys(ckpt.tokenizer)).toEqual(['tokenizerJson']);
    const dir = await writeTinyCheckpoint(join(root, 'bert'), { tokenizer: 'none' });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    await writeFile(join(dir, 'vocab.txt'), '[PAD]\n[UNK]\nhello\n');
    const bert = await loadCheckpointFiles({ kind: 'folder', path: dir });
    expect(bert.tokenizer).toEqual({ vocabTxt: '[PAD]\n[UNK]\nhello\n' });
  });

  it('explains what is missing or malformed', async () => {
    const noConfig = await writeTinyCheckpoint(join(root, 'no-config'), { config: false });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: noConfig }), 'missing-config', /No config\.json/);

    const badConfig = await writeTinyCheckpoint(join(root, 'bad-config'));
    await writeFile(join(badConfig, 'config.json'), '{ "n_layer": 2, ');
    await expectError(loadCheckpointFiles({ kind: 'folder', path: badConfig }), 'bad-config', /config\.json .* not valid JSON/);
    await writeFile(join(badConfig, 'config.json'), '[1, 2]');
    await expectError(loadCheckpointFiles({ kind: 'folder', path: badConfig }), 'bad-config', /JSON object/);

    const noTok = await writeTinyCheckpoint(join(root, 'no-tok'), { tokenizer: 'none' });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: noTok }), 'missing-tokenizer', /vocab\.json \+ merges\.txt, or tokenizer\.json/);
    await writeFile(join(noTok, 'vocab.json'), '{}');
    await expectError(loadCheckpointFiles({ kind: 'folder', path: noTok }), 'missing-tokenizer', /found vocab\.json but not merges\.txt/);

    const torch = await writeTinyCheckpoint(join(root, 'torch'), { weights: false });
    await writeFile(join(torch, 'pytorch_model.bin'), 'not really');
    await expectError(loadCheckpointFiles({ kind: 'folder', path: torch }), 'unsupported-format', /pytorch_model\.bin.*only safetensors checkpoints are supported; convert with/);

    const none = await writeTinyCheckpoint(join(root, 'no-weights'), { weights: false });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: none }), 'missing-weights', /model\.safetensors and model\.safetensors\.index\.json/);

    await expectError(loadCheckpointFiles({ kind: 'folder', path: join(root, 'does-not-exist') }), 'not-found', /does not exist/);
  });

  it('rejects hostile safetensors headers before allocating, naming the file', async () => {
    const dir = await writeTinyCheckpoint(join(root, 'hostile'), { weights: false });
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 60n, true);
    await writeFile(join(dir, 'model.safetensors'), bytes);
    await expectError(loadCheckpointFiles({ kind: 'folder', path: dir }), 'bad-safetensors', /model\.safetensors: header claims/);
  });

  it('validates sharded indexes', async () => {
    const dir = await writeTinyCheckpoint(join(root, 'bad-shards'), { shards: 2 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    const write = (weightMap: Record<string, string>) => writeFile(indexPath, JSON.stringify({ weight_map: weightMap }));
    const [first, second] = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const moved = Object.keys(index.weight_map).find((n) => index.weight_map[n] === first)!;

    // A tensor listed in the wrong shard.
    await write({ ...index.weight_map, [moved]: second });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: dir }), 'missing-tensor', new RegExp(`"${moved.replace(/\./g, '\\.')}" is in ${second}`));

    // A tensor stored in two shards.
    const dup = writeSafetensors({ [moved]: tinyTensors()[moved], 'extra.weight': { shape: [1], data: new Float32Array([1]) } });
    await writeFile(join(dir, 'model-00003-of-00003.safetensors'), dup);
    await write({ ...index.weight_map, 'extra.weight': 'model-00003-of-00003.safetensors' });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: dir }), 'duplicate-tensor', /appears in both/);

    // A missing shard, a path outside the folder, a non-object map.
    await write({ ...index.weight_map, 'x.weight': 'model-00009-of-00009.safetensors' });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: dir }), 'missing-shard', /model-00009-of-00009\.safetensors/);
    await write({ ...index.weight_map, 'x.weight': '../tiny/model.safetensors' });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: dir }), 'bad-index', /not a plain file name/);
    await write({ ...index.weight_map, 'x.weight': 'pytorch_model-00001-of-00002.bin' });
    await expectError(loadCheckpointFiles({ kind: 'folder', path: dir }), 'bad-index', /only safetensors/);
    await writeFile(indexPath, JSON.stringify({ weight_map: [] }));
    await expectError(loadCheckpointFiles({ kind: 'folder', path: dir }), 'bad-index', /weight_map/);
  });

  it('resolves the default source from defaultLocation (folder in Node, URL when given one)', async () => {
    const fromFolder = await loadCheckpointFiles({ kind: 'default' }, { defaultLocation: join(root, 'tiny') });
    expect(fromFolder.sourceId).toBe('default');
    expectTinyTensors(fromFolder.tensors);
    const fromUrl = await loadCheckpointFiles({ kind: 'default' }, { defaultLocation: `${server.url}/files/tiny/` });
    expectTinyTensors(fromUrl.tensors);
    await expectError(loadCheckpointFiles({ kind: 'default' }), 'no-default-model');
  });

  it('finds the embedded BERT beside the default model (bert-default/), in a folder and at a URL', async () => {
    await cp(join(root, 'tiny'), join(root, 'bert-default'), { recursive: true });
    const fromFolder = await loadCheckpointFiles({ kind: 'default', arch: 'bert' }, { defaultLocation: join(root, 'tiny') });
    expect(fromFolder.sourceId).toBe('default-bert');
    expectTinyTensors(fromFolder.tensors);
    const fromUrl = await loadCheckpointFiles({ kind: 'default', arch: 'bert' }, { defaultLocation: `${server.url}/files/tiny/` });
    expect(fromUrl.sourceId).toBe('default-bert');
    await rm(join(root, 'bert-default'), { recursive: true });
    await expectError(loadCheckpointFiles({ kind: 'default', arch: 'bert' }, { defaultLocation: join(root, 'tiny') }), 'not-found');
  });

  it('cancels before reading', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(loadCheckpointFiles({ kind: 'folder', path: join(root, 'tiny') }, { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('loadCheckpointFiles from picked files', () => {
  async function pick(dir: string, prefix: string): Promise<FileLike[]> {
    const names = ['config.json', 'vocab.json', 'merges.txt', 'model.safetensors'];
    return Promise.all(names.map(async (n) => fakeFile(`${prefix}${n}`, new Uint8Array(await readFile(join(dir, n))))));
  }

  it('reads a dropped folder by base name, preferring the shallowest path', async () => {
    const files = await pick(join(root, 'tiny'), 'tiny/');
    files.push(fakeFile('tiny/onnx/config.json', new TextEncoder().encode('not json')));
    const ckpt = await loadCheckpointFiles({ kind: 'files', files });
    expectTinyTensors(ckpt.tensors);
    expect(ckpt.tokenizer.mergesText).toBe(TINY_MERGES);
  });

  it('refuses two equally deep files with the same name', async () => {
    const files = [...(await pick(join(root, 'tiny'), 'a/')), fakeFile('b/config.json', new Uint8Array(2))];
    await expectError(loadCheckpointFiles({ kind: 'files', files }), 'ambiguous-files', /config\.json/);
  });
});

describe('fetchFile against a local HTTP server', () => {
  let expected: Uint8Array;
  beforeAll(async () => {
    expected = new Uint8Array(await readFile(join(root, 'tiny', 'model.safetensors')));
  });

  it('downloads with progress, returns null on 404', async () => {
    const progress: Array<[number, number | undefined]> = [];
    const bytes = await fetchFile(`${server.url}/slow/tiny/model.safetensors`, { onProgress: (l, t) => progress.push([l, t]) });
    expect(bytes).toEqual(expected);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
    expect(progress[progress.length - 1]).toEqual([expected.byteLength, expected.byteLength]);
    expect(await fetchFile(`${server.url}/files/tiny/nope.json`)).toBeNull();
  });

  it('handles bodies without Content-Length and compressed bodies', async () => {
    const totals: Array<number | undefined> = [];
    expect(await fetchFile(`${server.url}/chunked/tiny/model.safetensors`, { onProgress: (_, t) => totals.push(t) })).toEqual(expected);
    expect(totals.every((t) => t === undefined)).toBe(true);
    expect(await fetchFile(`${server.url}/gzip/tiny/model.safetensors`)).toEqual(expected);
  });

  it('reports HTTP errors with their status', async () => {
    const err = await expectError(fetchFile(`${server.url}/status/500/x`), 'http-error', /HTTP 500/);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(500);
    await expectError(fetchFile(`${server.url}/status/403/x`), 'http-error', /private or gated/);
  });

  it('says when a host cannot be reached', async () => {
    const port = await closedPort();
    await expectError(
      fetchFile(`http://127.0.0.1:${port}/config.json`),
      'unreachable',
      new RegExp(`^Could not reach 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*Check the URL or your connection\\.`),
    );
    // Port 1 is on fetch's list of blocked ports: refused before any connection, same error.
    await expectError(fetchFile('http://127.0.0.1:1/config.json'), 'unreachable', /^Could not reach 127\.0\.0\.1:1: /);
  });

  it('gives up when no bytes arrive for the stall timeout', async () => {
    const t0 = Date.now();
    await expectError(fetchFile(`${server.url}/stall/x`, { stallTimeoutMs: 200 }), 'timeout', /No data from 127\.0\.0\.1:\d+ for 200 ms/);
    await expectError(fetchFile(`${server.url}/stall-headers/x`, { stallTimeoutMs: 200 }), 'timeout');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('rejects a body shorter than its Content-Length', async () => {
    await expectError(fetchFile(`${server.url}/short/x`), 'truncated', /10 B of 1000 B/);
  });

  it('enforces maxBytes from the header and while streaming', async () => {
    await expectError(fetchFile(`${server.url}/files/tiny/model.safetensors`, { maxBytes: 100 }), 'too-large', /limit of 100 B/);
    await expectError(fetchFile(`${server.url}/chunked/tiny/model.safetensors`, { maxBytes: 100 }), 'too-large', /stopped the download/);
  });

  it('turns an abort into CancelledError, before and during the download', async () => {
    const before = new AbortController();
    before.abort();
    await expect(fetchFile(`${server.url}/files/tiny/config.json`, { signal: before.signal })).rejects.toBeInstanceOf(CancelledError);
    const during = new AbortController();
    const t0 = Date.now();
    const promise = fetchFile(`${server.url}/stall/x`, { signal: during.signal, onProgress: (loaded) => loaded > 0 && during.abort() });
    await expect(promise).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('exposes a stated SHA-256 and probes existence with HEAD', async () => {
    const lfs = await fetchResource(`${server.url}/lfs/tiny/config.json`);
    expect(lfs?.sha256Header).toBe('x-linked-etag');
    expect(lfs?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const plain = await fetchResource(`${server.url}/files/tiny/config.json`);
    expect(plain?.sha256).toBeUndefined(); // a 16-hex ETag is not a SHA-256
    expect(await probeFile(`${server.url}/files/tiny/config.json`)).toBe(true);
    expect(await probeFile(`${server.url}/files/tiny/missing.json`)).toBe(false);
    expect(await probeFile('http://127.0.0.1:1/x')).toBeUndefined();
  });
});

describe('loadCheckpointFiles over HTTP', () => {
  it('loads a folder URL with progress ending at 1', async () => {
    const events: CheckpointProgress[] = [];
    const ckpt = await loadCheckpointFiles(parseModelSource(`${server.url}/slow/tiny/`), { onProgress: (e) => events.push(e), cache: null });
    expectTinyTensors(ckpt.tensors);
    expect(ckpt.sourceId).toBe(`url:${server.url}/slow/tiny`);
    expectProgressWellFormed(events);
    expect(events.filter((e) => e.file === 'model.safetensors' && e.stage === 'download').length).toBeGreaterThanOrEqual(2);
  });

  it('loads sharded checkpoints over HTTP', async () => {
    const ckpt = await loadCheckpointFiles(parseModelSource(`${server.url}/files/sharded`), { cache: null });
    expectTinyTensors(ckpt.tensors);
  });

  it('loads a Hub repo at a revision from the configured endpoint', async () => {
    const before = server.requests.length;
    const ckpt = await loadCheckpointFiles(parseModelSource(`someone/tiny@${SHA}`), { hubEndpoint: `${server.url}/hub`, cache: null });
    expect(ckpt.sourceId).toBe(`hub:someone/tiny@${SHA}`);
    expectTinyTensors(ckpt.tensors);
    expect(server.requests.slice(before)).toContain(`/hub/someone/tiny/resolve/${SHA}/model.safetensors`);
  });

  it('names unsupported weight formats found by HEAD', async () => {
    const dir = await writeTinyCheckpoint(join(root, 'torch-http'), { weights: false });
    await writeFile(join(dir, 'pytorch_model.bin'), 'x');
    await expectError(loadCheckpointFiles(parseModelSource(`${server.url}/files/torch-http`), { cache: null }), 'unsupported-format', /only safetensors/);
  });

  it('reports an unreachable model URL and cancellation mid-download', async () => {
    await expectError(loadCheckpointFiles(parseModelSource('http://127.0.0.1:1/model'), { cache: null }), 'unreachable', /Could not reach 127\.0\.0\.1:1/);
    const controller = new AbortController();
    const promise = loadCheckpointFiles(parseModelSource(`${server.url}/stall`), {
      cache: null,
      signal: controller.signal,
      stallTimeoutMs: 5000,
      // The first event comes once the stalled response's headers are in: the download is under way.
      onProgress: () => controller.abort(),
    });
    await expect(promise).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('model cache', () => {
  it('stores files, reuses them without refetching, and lists them', async () => {
    const storage = new MemoryCacheStorage();
    const source = parseModelSource(`${server.url}/files/tiny`);
    const id = sourceId(source);
    const first = await loadCheckpointFiles(source, { cache: storage });
    expectTinyTensors(first.tensors);

    const before = server.requests.length;
    const events: CheckpointProgress[] = [];
    const second = await loadCheckpointFiles(source, { cache: storage, onProgress: (e) => events.push(e) });
    expect(server.requests.length).toBe(before);
    expectTinyTensors(second.tensors);
    expect(second.tokenizer).toEqual(first.tokenizer);
    expect(events.filter((e) => e.stage === 'download').every((e) => e.cached)).toBe(true);
    expectProgressWellFormed(events);

    const list = await listCachedModels(storage);
    expect(list).toHaveLength(1);
    expect(list[0].sourceId).toBe(id);
    expect(list[0].files.map((f) => f.name)).toEqual(['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
    expect(list[0].totalBytes).toBe(first.files.reduce((a, f) => a + f.bytes, 0));
  });

  it('trusts absent markers of a Hub commit: the cached sharded model loads without the network', async () => {
    const storage = new MemoryCacheStorage();
    const source = parseModelSource(`someone/sharded@${SHA}`);
    const options = { cache: storage, hubEndpoint: `${server.url}/hub` };
    await loadCheckpointFiles(source, options);
    const before = server.requests.length;
    const again = await loadCheckpointFiles(source, options);
    expect(server.requests.length).toBe(before);
    expectTinyTensors(again.tensors);
    const [model] = await listCachedModels(storage);
    expect(model.files.map((f) => f.name)).not.toContain('model.safetensors');
  });

  it('does not keep a 404 of a branch revision forever: a file added later is found', async () => {
    const storage = new MemoryCacheStorage();
    const dir = await writeTinyCheckpoint(join(root, 'later'), { weights: false });
    const source = parseModelSource('someone/later@main');
    const options = { cache: storage, hubEndpoint: `${server.url}/hub` };
    await expectError(loadCheckpointFiles(source, options), 'missing-weights');
    await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tinyTensors()));
    expectTinyTensors((await loadCheckpointFiles(source, options)).tensors);
  });

  it('uses the absent markers of a branch or URL when the server cannot be reached', async () => {
    const storage = new MemoryCacheStorage();
    const offline = await startTestServer(root);
    const source = parseModelSource(`${offline.url}/files/sharded`);
    await loadCheckpointFiles(source, { cache: storage });
    await offline.close();
    expectTinyTensors((await loadCheckpointFiles(source, { cache: storage })).tensors);
  });

  it('refetches and replaces an entry whose size does not match', async () => {
    const storage = new MemoryCacheStorage();
    const source = parseModelSource(`${server.url}/files/tiny`);
    const id = sourceId(source);
    await loadCheckpointFiles(source, { cache: storage });
    const cache = await storage.open(CACHE_NAME);
    const key = cacheKey(id, 'model.safetensors');
    const size = cache.entries.get(key)!.body.byteLength;
    cache.tamper(key, (e) => ({ ...e, body: e.body.slice(0, 100) }));

    const before = server.requests.length;
    const ckpt = await loadCheckpointFiles(source, { cache: storage });
    expectTinyTensors(ckpt.tensors);
    expect(server.requests.slice(before)).toEqual(['/files/tiny/model.safetensors']);
    expect(cache.entries.get(key)!.body.byteLength).toBe(size);
  });

  it('stores a stated SHA-256, verifies it on use, and rejects downloads that do not match it', async () => {
    const storage = new MemoryCacheStorage();
    const source = parseModelSource(`${server.url}/lfs/tiny`);
    const id = sourceId(source);
    await loadCheckpointFiles(source, { cache: storage });
    const [model] = await listCachedModels(storage);
    expect(model.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256 ?? ''))).toBe(true);

    const cache = await storage.open(CACHE_NAME);
    const key = cacheKey(id, 'model.safetensors');
    cache.tamper(key, (e) => {
      const body = e.body.slice();
      body[body.length - 1] ^= 0xff; // same size, different content
      return { ...e, body };
    });
    const modelCache = new ModelCache(storage);
    expect((await modelCache.get(id, 'model.safetensors')).status).toBe('miss');
    expect(cache.entries.has(key)).toBe(false);
    const before = server.requests.length;
    expectTinyTensors((await loadCheckpointFiles(source, { cache: storage })).tensors);
    expect(server.requests.slice(before)).toEqual(['/lfs/tiny/model.safetensors']);

    await expectError(loadCheckpointFiles(parseModelSource(`${server.url}/badsha/tiny`), { cache: storage }), 'corrupt-download', /SHA-256/);
  });

  it('clears one model or all of them', async () => {
    const storage = new MemoryCacheStorage();
    const a = parseModelSource(`${server.url}/files/tiny`);
    const b = parseModelSource(`${server.url}/files/tokjson`);
    await loadCheckpointFiles(a, { cache: storage });
    await loadCheckpointFiles(b, { cache: storage });
    expect((await listCachedModels(storage)).map((m) => m.sourceId)).toEqual([sourceId(a), sourceId(b)].sort());
    expect(await clearCachedModel(sourceId(a), storage)).toBeGreaterThanOrEqual(4);
    expect((await listCachedModels(storage)).map((m) => m.sourceId)).toEqual([sourceId(b)]);
    await clearAllCachedModels(storage);
    expect(await listCachedModels(storage)).toEqual([]);
  });

  it('is skipped where there is no Cache API, and never caches local or default sources', async () => {
    expect(typeof (globalThis as { caches?: unknown }).caches).toBe('undefined');
    const none = new ModelCache();
    expect(none.enabled).toBe(false);
    expect(await none.put('x', 'y', new Uint8Array(1))).toBe(false);
    expect((await none.get('x', 'y')).status).toBe('miss');
    expect(await listCachedModels()).toEqual([]);
    expect(await clearCachedModel('x')).toBe(0);

    const storage = new MemoryCacheStorage();
    await loadCheckpointFiles({ kind: 'default' }, { defaultLocation: `${server.url}/files/tiny`, cache: storage });
    await loadCheckpointFiles({ kind: 'folder', path: join(root, 'tiny') }, { cache: storage });
    expect(await listCachedModels(storage)).toEqual([]);
  });

  it('file providers refuse names that leave the model folder', async () => {
    const provider = createFileProvider({ kind: 'folder', path: join(root, 'tiny') });
    await expectError(provider.get('../tiny/config.json'), 'bad-file-name');
    await expectError(provider.get('.hidden'), 'bad-file-name');
  });
});
