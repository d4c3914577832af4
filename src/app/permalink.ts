/**
 * The permalink codec: the lab's analysis state as a short, compressed URL fragment and
 * back. Framework-free and pure (unit-tested and fuzzed in Node).
 *
 *   #v1.<base64url(deflate(JSON))>
 *
 * A link is untrusted input: decoding bounds the fragment and the inflated size, checks
 * every field's type and range, and drops nothing silently except unknown keys (from newer
 * versions). Every failure is a FactlabError whose message says what was wrong. Text from
 * a link is only ever shown as text by the page, never as markup.
 */
import { Inflate, deflateSync, strFromU8, strToU8 } from 'fflate';
import { FactlabError } from '../core/errors';
import { IG_BASELINES, RULES, type IgBaseline, type RiemannRule } from '../core/knowledge/riemann';

export const LINK_PREFIX = 'v1.';
/** Longest fragment accepted (browsers and chat apps truncate far longer URLs). */
export const MAX_FRAGMENT_CHARS = 64_000;
/** Largest inflated JSON accepted (a small fragment can inflate hugely). */
export const MAX_STATE_BYTES = 512 * 1024;
export const MAX_PROMPTS = 64;
export const MAX_TEXT = 4000;
export const MAX_EDITS = 64;
export const MAX_NEURONS = 20_000;

/** The views a link can open (and `?embed=1` can show alone). */
export const VIEWS = ['lab', 'fact', 'neuron-map', 'inspector', 'before-after', 'edits', 'degeneracy', 'subnetwork'] as const;
export type ViewId = (typeof VIEWS)[number];

const METHODS = ['ig', 'activation'] as const;
const PRESETS = ['project', 'official-kn', 'eleutherai'] as const;
const SITES = ['post', 'pre'] as const;
const SCOPES = ['refined', 'selected'] as const;
const MAP_VALUES = ['attribution', 'activation'] as const;

export type LinkNeuron = [number, number];

export interface LinkSearch {
  method: (typeof METHODS)[number];
  preset: (typeof PRESETS)[number];
  steps: number;
  rule: RiemannRule;
  site: (typeof SITES)[number];
  /** Absent in links from before the AMIG baseline: zero. */
  baseline?: IgBaseline;
  t: number;
  p: number;
  strict: boolean;
  minPrompts: number;
}

export type EditRecipe =
  | { kind: 'update'; prompt: string; target: string; newTarget: string; neurons: LinkNeuron[] }
  | { kind: 'erase'; neurons: LinkNeuron[]; label?: string };

export interface LabLink {
  /** Model source id: `default`, `hub:owner/name@revision`, `url:https://…` (files cannot travel in a link). */
  model: string;
  /** The fact's prompts (the first is the one predicted live) and its target. */
  prompts: string[];
  target: string;
  fact: { id?: string; subject: string; relation: string };
  settings: LinkSearch;
  /** Whether the knowledge-neuron search had run (then opening the link recomputes it). */
  searched: boolean;
  selected?: LinkNeuron;
  map: { value: (typeof MAP_VALUES)[number]; prompt?: number; zoom?: [number, number] };
  intervention: { scale: number; scope: (typeof SCOPES)[number] };
  /** Weight edits in the order they were applied. */
  edits: EditRecipe[];
  view: ViewId;
  /** The degeneracy search: first layer searched, and whether it had run (then it is recomputed). */
  degeneracy?: { fromLayer: number; ran: boolean; path?: IgBaseline };
  /** The subnetwork selection and settings (training is not replayed: the reader starts it). */
  subnetwork?: { relation: string; query: string; steps: number; seed: number; lambdaReg?: { init: number; final: number } };
}

function bad(message: string): FactlabError {
  return new FactlabError('bad-link', `This link is damaged or was not made by factlab: ${message} Ask for the link again, or open the lab without it.`);
}

/** The fragment (without '#') for a state. */
export function encodeLink(link: LabLink): string {
  const json = JSON.stringify(validateLink(JSON.parse(JSON.stringify(link)) as unknown));
  return LINK_PREFIX + toBase64Url(deflateSync(strToU8(json), { level: 9 }));
}

/** The state in a fragment ('#' optional); throws FactlabError `bad-link` or `link-too-long`. */
export function decodeLink(fragment: string): LabLink {
  const text = fragment.startsWith('#') ? fragment.slice(1) : fragment;
  if (text.length > MAX_FRAGMENT_CHARS) {
    throw new FactlabError('link-too-long', `This link's state is ${text.length.toLocaleString('en')} characters long; factlab accepts at most ${MAX_FRAGMENT_CHARS.toLocaleString('en')}. It was probably cut or padded; ask for the link again.`);
  }
  if (!text.startsWith(LINK_PREFIX)) {
    const version = /^v(\d+)\./.exec(text);
    if (version) throw new FactlabError('bad-link', `This link was made by a newer factlab (format v${version[1]}); this page reads v1 links. Reload the page to get the newest lab.`);
    throw bad('its state does not start with "v1.".');
  }
  const bytes = fromBase64Url(text.slice(LINK_PREFIX.length));
  let json: string;
  try {
    json = strFromU8(inflateBounded(bytes, MAX_STATE_BYTES));
  } catch (err) {
    if (err instanceof FactlabError) throw err;
    throw bad('its state could not be decompressed.');
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw bad('its state is not valid JSON.');
  }
  return validateLink(value);
}

/** The fragment of a page address, or undefined when it holds no lab state. */
export function fragmentOf(hash: string): string | undefined {
  const text = hash.startsWith('#') ? hash.slice(1) : hash;
  return text === '' ? undefined : text;
}

function inflateBounded(bytes: Uint8Array, limit: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inflate = new Inflate((chunk) => {
    total += chunk.length;
    if (total > limit) throw new FactlabError('link-too-long', `This link's state inflates to more than ${limit / 1024} kB; factlab does not open it.`);
    chunks.push(chunk);
  });
  inflate.push(bytes, true);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += B64[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

export function fromBase64Url(text: string): Uint8Array {
  if (text.length % 4 === 1) throw bad('its state has a truncated code.');
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (const c of text) {
    const v = B64_INDEX.get(c);
    if (v === undefined) throw bad(`its state holds the character ${JSON.stringify(c)}, which links never contain.`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 255;
    }
  }
  return out;
}

// ---- validation: every field checked, with the path of the first bad one in the message.

type Obj = Record<string, unknown>;

function object(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${path} should be an object.`);
  return v as Obj;
}

function text(v: unknown, path: string, max = MAX_TEXT): string {
  if (typeof v !== 'string') throw bad(`${path} should be text.`);
  if (v.length > max) throw bad(`${path} is longer than ${max} characters.`);
  return v;
}

function number(v: unknown, path: string, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw bad(`${path} should be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}.`);
  }
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) throw bad(`${path} should be one of ${options.join(', ')}.`);
  return v as T;
}

function list<T>(v: unknown, path: string, max: number, item: (x: unknown, path: string) => T): T[] {
  if (!Array.isArray(v)) throw bad(`${path} should be a list.`);
  if (v.length > max) throw bad(`${path} has more than ${max} entries.`);
  return v.map((x, i) => item(x, `${path}[${i}]`));
}

function neuron(v: unknown, path: string): LinkNeuron {
  if (!Array.isArray(v) || v.length !== 2) throw bad(`${path} should be [layer, index].`);
  return [number(v[0], `${path} layer`, 0, 10_000, true), number(v[1], `${path} index`, 0, 10_000_000, true)];
}

function optional<T>(o: Obj, key: string, read: (v: unknown) => T): T | undefined {
  return o[key] === undefined ? undefined : read(o[key]);
}

function modelId(v: unknown): string {
  const id = text(v, 'the model', 2000);
  if (id === 'default' || id === 'default-bert' || /^hub:[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)?@[A-Za-z0-9._/-]+$/.test(id)) return id;
  if (/^url:https?:\/\/\S+$/.test(id)) return id;
  throw bad('the model should be "default", "default-bert", a Hub repo@revision or an http(s) URL.');
}

function search(v: unknown): LinkSearch {
  const o = object(v, 'the settings');
  const baseline = optional(o, 'baseline', (x) => oneOf(x, 'the IG baseline', IG_BASELINES));
  return {
    ...(baseline === undefined ? {} : { baseline }),
    method: oneOf(o.method, 'the method', METHODS),
    preset: oneOf(o.preset, 'the preset', PRESETS),
    steps: number(o.steps, 'the steps m', 1, 1000, true),
    rule: oneOf(o.rule, 'the rule', RULES),
    site: oneOf(o.site, 'the site', SITES),
    t: number(o.t, 't', 0, 1),
    p: number(o.p, 'p', 0, 1),
    strict: boolean(o.strict, 'strict'),
    minPrompts: number(o.minPrompts, 'the minimum number of prompts', 0, MAX_PROMPTS, true),
  };
}

function boolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw bad(`${path} should be true or false.`);
  return v;
}

function edit(v: unknown, path: string): EditRecipe {
  const o = object(v, path);
  const kind = oneOf(o.kind, `${path} kind`, ['update', 'erase'] as const);
  const neurons = list(o.neurons, `${path} neurons`, MAX_NEURONS, neuron);
  if (kind === 'erase') {
    const label = optional(o, 'label', (x) => text(x, `${path} label`, 200));
    return label === undefined ? { kind, neurons } : { kind, neurons, label };
  }
  return { kind, prompt: text(o.prompt, `${path} prompt`), target: text(o.target, `${path} target`, 200), newTarget: text(o.newTarget, `${path} new target`, 200), neurons };
}

/** Checks a parsed state and returns a clean copy holding only known fields. */
export function validateLink(value: unknown): LabLink {
  const o = object(value, 'the state');
  const prompts = list(o.prompts, 'the prompts', MAX_PROMPTS, (x, p) => text(x, p));
  if (prompts.length === 0) throw bad('it holds no prompt.');
  const fact = object(o.fact, 'the fact');
  const map = object(o.map, 'the map');
  const intervention = object(o.intervention, 'the intervention');
  const zoom = optional(map, 'zoom', (z) => {
    const [from, to] = neuron(z, 'the zoom');
    if (to <= from) throw bad('the zoom range is empty.');
    return [from, to] as [number, number];
  });
  const mapPrompt = optional(map, 'prompt', (x) => number(x, 'the map prompt', 0, prompts.length - 1, true));
  const factId = optional(fact, 'id', (x) => text(x, 'the fact id', 200));
  const selected = optional(o, 'selected', (x) => neuron(x, 'the selected neuron'));
  const link: LabLink = {
    model: modelId(o.model),
    prompts,
    target: text(o.target, 'the target', 200),
    fact: { ...(factId === undefined ? {} : { id: factId }), subject: text(fact.subject, 'the subject', 200), relation: text(fact.relation, 'the relation', 200) },
    settings: search(o.settings),
    searched: boolean(o.searched, 'searched'),
    map: { value: oneOf(map.value, 'the map value', MAP_VALUES), ...(mapPrompt === undefined ? {} : { prompt: mapPrompt }), ...(zoom ? { zoom } : {}) },
    intervention: { scale: number(intervention.scale, 'the scale', 0, 10), scope: oneOf(intervention.scope, 'the scope', SCOPES) },
    edits: list(o.edits, 'the edits', MAX_EDITS, edit),
    view: oneOf(o.view, 'the view', VIEWS),
  };
  if (selected) link.selected = selected;
  const degeneracy = optional(o, 'degeneracy', (x) => object(x, 'the degeneracy search'));
  if (degeneracy) {
    link.degeneracy = { fromLayer: number(degeneracy.fromLayer, 'the first degeneracy layer', 0, 10_000, true), ran: boolean(degeneracy.ran, 'the degeneracy search ran') };
    if (degeneracy.path !== undefined) link.degeneracy.path = oneOf(degeneracy.path, 'the degeneracy IG baseline', IG_BASELINES);
  }
  const subnetwork = optional(o, 'subnetwork', (x) => object(x, 'the subnetwork settings'));
  if (subnetwork) {
    link.subnetwork = {
      relation: text(subnetwork.relation, 'the subnetwork relation', 200),
      query: text(subnetwork.query, 'the subnetwork filter', 200),
      steps: number(subnetwork.steps, 'the subnetwork steps', 1, 40_000, true),
      seed: number(subnetwork.seed, 'the subnetwork seed', -(2 ** 31), 2 ** 31, true),
    };
    const lambdaReg = optional(subnetwork, 'lambdaReg', (x) => object(x, 'the subnetwork λ_reg'));
    if (lambdaReg) {
      link.subnetwork.lambdaReg = { init: number(lambdaReg.init, 'the first λ_reg', 0, 1000), final: number(lambdaReg.final, 'the last λ_reg', 0, 1000) };
    }
  }
  return link;
}
