import { useMemo, useState } from 'react';
import type { Neuron } from '../../core/knowledge/refine';
import { download, tableCsv, topNeurons, type CoarseCounter, type NeuronGrid, type TableRow } from '../knowledge';
import { fmt } from './NeuronMap';

type SortKey = 'score' | 'layer' | 'index' | 'count';

const COLUMNS: Array<[SortKey, string]> = [
  ['layer', 'Layer'],
  ['index', 'Neuron'],
  ['score', 'Value'],
  ['count', 'Coarse in'],
];

/** The map's table twin: the top-N neurons by value, sortable, selectable, exportable as CSV. */
export function NeuronTable({ grid, countOf, refined, selected, valueLabel, onSelect }: { grid: NeuronGrid; countOf: CoarseCounter; refined: Set<string>; selected?: Neuron; valueLabel: string; onSelect(n: Neuron): void }) {
  const [topN, setTopN] = useState(20);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'score', desc: true });
  // Ranking scans every neuron: only when the grid changes; counts and marks follow t and p cheaply.
  const ranked = useMemo(() => topNeurons(grid, topN, () => 0, new Set()), [grid, topN]);
  const top = useMemo(() => ranked.map((r) => ({ ...r, count: countOf(r.layer, r.index), refined: refined.has(`${r.layer}:${r.index}`) })), [ranked, countOf, refined]);
  const rows = useMemo(() => {
    const sign = sort.desc ? -1 : 1;
    return [...top].sort((a, b) => sign * (a[sort.key] - b[sort.key]) || b.score - a.score);
  }, [top, sort]);

  const header = (key: SortKey, label: string) => {
    const active = sort.key === key;
    return (
      <th key={key} scope="col" className={key === 'layer' || key === 'index' ? '' : 'num'} aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
        <button type="button" className="sort-button" data-testid={`sort-${key}`} onClick={() => setSort({ key, desc: active ? !sort.desc : key === 'score' || key === 'count' })}>
          {key === 'score' ? valueLabel : label}
          <span aria-hidden="true">{active ? (sort.desc ? ' ▼' : ' ▲') : ''}</span>
        </button>
      </th>
    );
  };

  return (
    <details className="table-twin" data-testid="neuron-table">
      <summary>Table: the top {topN} neurons by {valueLabel}</summary>
      <div className="inline table-tools">
        <label className="inline-label">
          Show
          <select value={topN} onChange={(e) => setTopN(Number(e.target.value))} data-testid="table-topn">
            {[20, 50, 100, 500].map((n) => (
              <option key={n} value={n}>
                top {n}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => download(`neurons-top${topN}.csv`, tableCsv(rows, valueLabel.replace(/\s+/g, '_')), 'text/csv')} data-testid="export-table-csv">
          Export CSV
        </button>
      </div>
      <div className="table-scroll">
        <table className="data-table">
          <thead>
            <tr>
              {COLUMNS.map(([k, label]) => header(k, label))}
              <th scope="col">Knowledge neuron</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r: TableRow) => {
              const isSel = selected?.[0] === r.layer && selected?.[1] === r.index;
              return (
                <tr key={`${r.layer}:${r.index}`} className={isSel ? 'row-selected' : ''} aria-selected={isSel} data-testid="neuron-table-row">
                  <td>{r.layer}</td>
                  <td>
                    <button type="button" className="link-button" onClick={() => onSelect([r.layer, r.index])} aria-label={`Select layer ${r.layer} neuron ${r.index}`}>
                      {r.index}
                    </button>
                  </td>
                  <td className="num">{fmt(r.score)}</td>
                  <td className="num">{r.count}</td>
                  <td>{r.refined ? '✓' : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </details>
  );
}
