import { scaleLinear } from 'd3';
import type { DknResult } from '../../core/degeneracy/dkn';
import type { IgBaseline } from '../../core/knowledge/riemann';
import type { TableSpec } from '../chart-export';
import { useDkn } from '../dkn-store';
import { formatProb } from '../format';
import { useLab } from '../store';
import { ChartFrame } from './ChartFrame';
import { ErrorMessage } from './ErrorMessage';
import { Gpt2OnlyNotice } from './Gpt2OnlyNotice';
import { ProgressBar } from './ProgressBar';

/** Okabe–Ito, colour-blind safe; grey for neurons in no cluster. */
const CLUSTER_COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];
const colourOf = (k: number) => (k < 0 ? '#bbb' : CLUSTER_COLOURS[k % CLUSTER_COLOURS.length]);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

/**
 * Degenerate knowledge neurons (Chen et al.): the fact's knowledge neurons grouped by weight
 * connectivity, the groups that can each carry the fact alone, and the drop when some or all
 * of them are switched off.
 */
export function DegeneracyPanel() {
  const model = useLab((s) => s.model);
  const s = useDkn();
  const nLayer = model?.shape.nLayer ?? 0;
  if (model?.arch === 'bert') {
    return (
      <section className="card" aria-labelledby="dkn-heading" data-testid="degeneracy">
        <h2 id="dkn-heading">Degeneracy</h2>
        <Gpt2OnlyNotice method="degeneracy" />
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="dkn-heading" data-testid="degeneracy">
      <h2 id="dkn-heading">Degeneracy</h2>
      <p className="muted small">
        Groups of knowledge neurons that each can carry the current fact alone (methods.md §4): clusters by persistent homology over the weights, kept when suppressing one alone drops P by less than 5%; degenerate when at least two are kept and suppressing all of them drops P by at least 30%.
      </p>
      <div className="button-row">
        <label htmlFor="dkn-from">Search layers</label>
        <select id="dkn-from" data-testid="dkn-from" value={s.fromLayer} disabled={s.running} onChange={(e) => s.setFromLayer(Number(e.target.value))}>
          {Array.from({ length: Math.max(1, nLayer) }, (_, l) => (
            <option key={l} value={l}>
              {l === 0 ? 'all layers' : `${l}–${nLayer - 1}`}
            </option>
          ))}
        </select>
        <label htmlFor="dkn-path">IG baseline</label>
        <select id="dkn-path" data-testid="dkn-path" value={s.path} disabled={s.running} onChange={(e) => s.setPath(e.target.value as IgBaseline)}>
          <option value="zero">zero (paper)</option>
          <option value="amig">AMIG (released code)</option>
        </select>
        <button type="button" data-testid="dkn-run" disabled={s.running || !model} onClick={() => void s.run()}>
          Find degenerate neurons
        </button>
      </div>
      {s.running && s.progress && <ProgressBar title="Degenerate-neuron search" progress={s.progress} onCancel={s.cancel} testId="dkn-progress" cancelTestId="dkn-cancel" />}
      <ErrorMessage error={s.error} where="degeneracy" />
      {s.result && <DknResultView result={s.result} />}
    </section>
  );
}

function DknResultView({ result }: { result: DknResult }) {
  const suppress = useDkn((s) => s.suppress);
  const suppression = useDkn((s) => s.suppression);
  const passing = new Set(result.filter.passing);
  const verdict = result.verdict.dkn ? `degenerate: ${result.filter.passing.length} clusters can each carry the fact` : `no degenerate neurons (${result.verdict.reason.replace(/-/g, ' ')})`;
  return (
    <div data-testid="dkn-result" data-dkn={result.verdict.dkn} data-clusters={result.clusters.length}>
      <p className="small">
        {result.neurons.length} knowledge neurons from {result.promptsUsed} prompt(s) (integrated gradients from the {result.settings.path === 'amig' ? 'AMIG' : 'zero'} baseline), P = {formatProb(result.p0)}; {result.clusters.length} cluster(s); <strong>{verdict}</strong>
        {result.jointDrop !== null ? `; suppressing all passing clusters drops P by ${pct(result.jointDrop)}` : ''}.
      </p>
      <ClusterGraph result={result} />
      <ul className="dkn-clusters">
        {result.clusters.map((c, k) => (
          <li key={k} data-testid="dkn-cluster" data-passed={passing.has(k)}>
            <span className="swatch" style={{ background: colourOf(k) }} /> cluster {k + 1}: {c.neurons.length} neurons, layers {c.layers[0]}–{c.layers[1]}; alone it drops P by {pct(result.filter.decisions[k]?.drop)} → {passing.has(k) ? 'kept' : 'rejected'}{' '}
            <button type="button" className="small-button" data-testid="dkn-suppress" onClick={() => void suppress(k)}>
              Suppress
            </button>
          </li>
        ))}
      </ul>
      {result.bdcs.length > 1 && (
        <button type="button" className="small-button" data-testid="dkn-suppress-all" onClick={() => void suppress('all')}>
          Suppress all kept clusters
        </button>
      )}
      {suppression && (
        <table className="ba-table" data-testid="dkn-suppression">
          <caption className="small">
            {suppression.cluster === 'all' ? 'All kept clusters' : `Cluster ${suppression.cluster + 1}`} suppressed ({suppression.neurons.length} neurons ×0)
          </caption>
          <thead>
            <tr>
              <th scope="col">prompt</th>
              <th scope="col">P before</th>
              <th scope="col">P after</th>
            </tr>
          </thead>
          <tbody>
            {suppression.rows.map((r, i) => (
              <tr key={i}>
                <td>{r.prompt}</td>
                <td>{formatProb(r.before.prob)}</td>
                <td>{formatProb(r.after.prob)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {result.analysis && <DropBars result={result} />}
    </div>
  );
}

const GRAPH = { width: 560, rowHeight: 14, left: 56, top: 8 };

/** Knowledge neurons laid out by layer (rows), coloured by cluster; a cluster's members are joined. */
function ClusterGraph({ result }: { result: DknResult }) {
  const clusterOf = new Map<string, number>();
  result.clusters.forEach((c, k) => c.neurons.forEach(([l, i]) => clusterOf.set(`${l}:${i}`, k)));
  const layers = [...new Set(result.neurons.map((n) => n.layer))].sort((a, b) => a - b);
  const height = GRAPH.top * 2 + layers.length * GRAPH.rowHeight * 2;
  const y = (layer: number) => GRAPH.top + (layers.indexOf(layer) * 2 + 1) * GRAPH.rowHeight;
  const width = Math.max(...result.neurons.map((n) => n.index), 1);
  const x = scaleLinear().domain([0, width]).range([GRAPH.left, GRAPH.width - 8]);
  const table: TableSpec = {
    columns: [{ key: 'neuron', label: 'neuron (layer:index)' }, { key: 'cluster', label: 'cluster' }, { key: 'score', label: 'attribution', numeric: true }],
    rows: result.neurons.map((n) => ({ neuron: `${n.layer}:${n.index}`, cluster: clusterOf.has(`${n.layer}:${n.index}`) ? String(clusterOf.get(`${n.layer}:${n.index}`)! + 1) : '—', score: n.score ?? NaN })),
  };
  return (
    <ChartFrame title="Knowledge neurons by layer and cluster" name="degeneracy-clusters" testId="dkn-graph" figure={{ kind: 'bars', bars: { title: 'Attribution of the knowledge neurons', labelKey: 'neuron', valueKeys: ['score'] } }} table={table} result={() => result}>
      <svg width={GRAPH.width} height={height} viewBox={`0 0 ${GRAPH.width} ${height}`} role="img" aria-label={`${result.neurons.length} knowledge neurons in ${result.clusters.length} clusters`}>
        {layers.map((l) => (
          <text key={l} x={4} y={y(l) + 4} fontSize={11}>
            layer {l}
          </text>
        ))}
        {result.clusters.map((c, k) => (
          <polyline key={k} points={c.neurons.map(([l, i]) => `${x(i)},${y(l)}`).join(' ')} fill="none" stroke={colourOf(k)} strokeOpacity={0.5} />
        ))}
        {result.neurons.map((n) => {
          const k = clusterOf.get(`${n.layer}:${n.index}`) ?? -1;
          return (
            <circle key={`${n.layer}:${n.index}`} cx={x(n.index)} cy={y(n.layer)} r={5} fill={colourOf(k)} stroke="#fff">
              <title>{`neuron ${n.layer}:${n.index}${k >= 0 ? `, cluster ${k + 1}` : ', no cluster'}`}</title>
            </circle>
          );
        })}
      </svg>
    </ChartFrame>
  );
}

/** Mean drop of P when suppressing k of the kept clusters (k = 1 … n), against random neurons of the same size. */
function DropBars({ result }: { result: DknResult }) {
  const analysis = result.analysis!;
  const controlAll = result.controls?.controls.find((c) => c.target === 'all');
  const rows = analysis.meanBySize.map((m) => ({ subset: `${m.size} of ${analysis.clusters} clusters`, drop: +(100 * m.mean).toFixed(2), random: NaN }));
  rows.push({ subset: `all ${analysis.clusters} clusters`, drop: +(100 * (analysis.all ?? NaN)).toFixed(2), random: controlAll ? +(100 * controlAll.mean).toFixed(2) : NaN });
  const table: TableSpec = {
    columns: [{ key: 'subset', label: 'suppressed' }, { key: 'drop', label: 'mean drop of P %', numeric: true }, { key: 'random', label: 'random neurons, same size %', numeric: true }],
    rows,
  };
  const max = Math.max(1, ...rows.flatMap((r) => [r.drop, r.random]).filter(Number.isFinite));
  return (
    <ChartFrame title="Degeneracy: drop when suppressing subsets of clusters" name="degeneracy-drops" testId="dkn-drops" figure={{ kind: 'bars', bars: { title: 'Drop of P (%) by clusters suppressed', labelKey: 'subset', valueKeys: ['drop', 'random'] } }} table={table} result={() => ({ analysis, controls: result.controls })}>
      <ul className="legend small">
        <li>
          <span className="swatch" style={{ background: CLUSTER_COLOURS[0] }} /> clusters suppressed
        </li>
        <li>
          <span className="swatch" style={{ background: CLUSTER_COLOURS[1] }} /> random neurons, same layers and size
        </li>
      </ul>
      <div className="dkn-bars">
        {rows.map((r) => (
          <div key={r.subset} className="dkn-bar-row">
            <span className="small">
              {r.subset}: {r.drop}%{Number.isFinite(r.random) ? ` (random ${r.random}%)` : ''}
            </span>
            <span className="dkn-bar" style={{ width: `${(Math.max(0, r.drop) / max) * 100}%`, background: CLUSTER_COLOURS[0] }} title={`${r.drop}%`} />
            {Number.isFinite(r.random) && <span className="dkn-bar" style={{ width: `${(Math.max(0, r.random) / max) * 100}%`, background: CLUSTER_COLOURS[1] }} title={`random ${r.random}%`} />}
          </div>
        ))}
      </div>
    </ChartFrame>
  );
}
