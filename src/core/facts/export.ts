/** Export of fact sets: the fact-set JSON, the flat JSON list and CSV (the forms io.ts imports). */
import { formatCsv } from './csv';
import { canonicalRelation } from './io';
import { factIdFor, promptsFor } from './prompts';
import type { Fact, FactSet, FlatFactRecord } from './types';
import { factError, show } from './validate';

/** The JSON of a fact set: relations readable, one fact per line (compact and diff-friendly). */
export function exportFactSetJson(set: FactSet): string {
  const head: Record<string, unknown> = { name: set.name, version: set.version };
  if (set.description !== undefined) head.description = set.description;
  if (set.source !== undefined) head.source = set.source;
  const lines: string[] = ['{'];
  for (const [k, v] of Object.entries(head)) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
  lines.push('  "relations": [');
  set.relations.forEach((r, i) => {
    const body = JSON.stringify(canonicalRelation(r), null, 2)
      .replace(/\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]/g, (_, nums: string) => `[${nums.split(/,\s*/).join(', ')}]`)
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n');
    lines.push(body + (i < set.relations.length - 1 ? ',' : ''));
  });
  lines.push('  ],');
  lines.push('  "facts": [');
  set.facts.forEach((f, i) => {
    const fact: Fact = { id: f.id, relation: f.relation, subject: f.subject, object: f.object };
    if (f.prompts?.length) fact.prompts = f.prompts;
    if (f.maskedPrompts?.length) fact.maskedPrompts = f.maskedPrompts;
    lines.push(`    ${JSON.stringify(fact)}${i < set.facts.length - 1 ? ',' : ''}`);
  });
  lines.push('  ]');
  lines.push('}');
  return lines.join('\n') + '\n';
}

export interface FlatExportOptions {
  /**
   * Write every fact's prompts in full (from the relation's templates when the fact has
   * none of its own), so the file needs no relation definitions to be imported again.
   */
  expandPrompts?: boolean;
}

/** The flat records of a set (explicit prompts only, or all prompts with `expandPrompts`). */
export function toFlatRecords(set: FactSet, options: FlatExportOptions = {}): FlatFactRecord[] {
  const relations = new Map(set.relations.map((r) => [r.id, r]));
  return set.facts.map((f) => {
    const rec: FlatFactRecord = { id: f.id, subject: f.subject, relation: f.relation, object: f.object };
    const relation = relations.get(f.relation);
    const prompts = options.expandPrompts
      ? [...promptsFor(f, relation, { split: 'all' }), ...promptsFor(f, relation, { masked: true })]
      : [...(f.prompts ?? []), ...(f.maskedPrompts ?? [])];
    if (prompts.length) rec.prompts = prompts;
    return rec;
  });
}

/** The flat JSON list form: one fact per line. */
export function exportFlatJson(set: FactSet, options: FlatExportOptions = {}): string {
  const recs = toFlatRecords(set, options);
  if (recs.length === 0) return '[]\n';
  return `[\n${recs.map((r) => `  ${JSON.stringify(r)}`).join(',\n')}\n]\n`;
}

export interface CsvExportOptions extends FlatExportOptions {
  /** Always write the id column (by default only when some id differs from the derived one). */
  includeIds?: boolean;
}

/** CSV with columns subject, relation, object, prompts (joined by ' | ') and, when needed, id. */
export function exportFactsCsv(set: FactSet, options: CsvExportOptions = {}): string {
  const recs = toFlatRecords(set, options);
  for (const r of recs) {
    for (const p of r.prompts ?? []) {
      if (p.includes('|')) {
        throw factError('facts-bad-prompt', `Fact ${show(r.id ?? '')}: the prompt ${show(p)} contains "|", which separates prompts in CSV; export as JSON instead.`);
      }
    }
  }
  const withIds = options.includeIds || recs.some((r) => r.id !== factIdFor(r.relation, r.subject));
  const header = ['subject', 'relation', 'object', 'prompts', ...(withIds ? ['id'] : [])];
  const rows = recs.map((r) => [r.subject, r.relation, r.object, (r.prompts ?? []).join(' | '), ...(withIds ? [r.id ?? ''] : [])]);
  return formatCsv([header, ...rows]);
}

/** Exports a fact set: 'json' (fact-set form), 'flat-json' or 'csv'. */
export function exportFacts(set: FactSet, format: 'json' | 'flat-json' | 'csv', options: CsvExportOptions = {}): string {
  if (format === 'json') return exportFactSetJson(set);
  if (format === 'flat-json') return exportFlatJson(set, options);
  return exportFactsCsv(set, options);
}
