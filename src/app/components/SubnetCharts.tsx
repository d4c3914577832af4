/** The subnetwork view's charts: training curves (canvas), the layer × matrix sparsity map, and ΔPPL. */
import { extent, line, scaleLinear, scaleLog } from 'd3';
import { useEffect, useRef } from 'react';
import type { TableSpec } from '../chart-export';
import { SERIES_COLOURS } from '../chart-export';
import type { SparsityReport } from '../../core/subnetwork/mask';
import type { SubnetEvaluation } from '../../core/subnetwork/metrics';
import type { StepRecord } from '../../core/subnetwork/progress';
import { MASKABLE_MATRICES } from '../../core/model/weights';
import { ChartFrame } from './ChartFrame';

const SERIES = [
  { key: 'suppress', label: 'suppression KL (target)' },
  { key: 'controlKg', label: 'KL control facts' },
  { key: 'controlLm', label: 'KL control text' },
  { key: 'density', label: 'mean σ(s) (density)' },
] as const;

const CURVE = { width: 560, height: 200, left: 44, right: 12, top: 10, bottom: 24 };

/** Each loss term (log scale) and the sparsity (right axis, 0–100%) against the step. */
export function TrainingCurves({ curve }: { curve: StepRecord[] }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const el = canvas.current;
    const ctx = el?.getContext('2d');
    if (!el || !ctx) return;
    const ratio = window.devicePixelRatio || 1;
    el.width = CURVE.width * ratio;
    el.height = CURVE.height * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, CURVE.width, CURVE.height);
    if (curve.length === 0) return;
    const x = scaleLinear().domain([0, Math.max(1, curve[curve.length - 1].step)]).range([CURVE.left, CURVE.width - CURVE.right]);
    const values = curve.flatMap((r) => SERIES.map((s) => r.losses[s.key]).filter((v): v is number => v !== null && v > 0));
    const [lo, hi] = extent(values) as [number | undefined, number | undefined];
    const y = scaleLog().domain([Math.max(1e-6, lo ?? 1e-3), Math.max(hi ?? 1, (lo ?? 1e-3) * 10)]).range([CURVE.height - CURVE.bottom, CURVE.top]).clamp(true);
    const ySparsity = scaleLinear().domain([0, 1]).range([CURVE.height - CURVE.bottom, CURVE.top]);
    ctx.strokeStyle = '#999';
    ctx.fillStyle = '#444';
    ctx.font = '11px system-ui, sans-serif';
    // Log axes get many ticks; label only the ones the formatter keeps (powers of ten and a few more).
    const label = y.tickFormat(4, '.0e');
    for (const tick of y.ticks()) if (label(tick)) ctx.fillText(label(tick), 2, y(tick) + 4);
    for (const tick of x.ticks(6)) ctx.fillText(String(tick), x(tick) - 6, CURVE.height - 6);
    ctx.fillText('sparsity 100%', CURVE.width - 84, CURVE.top + 10);
    const draw = (points: Array<[number, number]>, colour: string, dash: number[] = []) => {
      ctx.beginPath();
      ctx.setLineDash(dash);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.5;
      line().context(ctx)(points);
      ctx.stroke();
      ctx.setLineDash([]);
    };
    SERIES.forEach((s, i) => {
      const points = curve.flatMap((r) => (r.losses[s.key] === null || !(r.losses[s.key]! > 0) ? [] : [[x(r.step), y(r.losses[s.key]!)] as [number, number]]));
      if (points.length) draw(points, SERIES_COLOURS[i]);
    });
    draw(curve.map((r) => [x(r.step), ySparsity(r.sparsity)]), '#000', [4, 3]);
  }, [curve]);

  const table: TableSpec = {
    columns: [{ key: 'step', label: 'step', numeric: true }, ...SERIES.map((s) => ({ key: s.key, label: s.label, numeric: true })), { key: 'lambdaReg', label: 'λ_reg', numeric: true }, { key: 'sparsity', label: 'sparsity %', numeric: true }],
    rows: curve.map((r) => ({ step: r.step, suppress: r.losses.suppress ?? NaN, controlKg: r.losses.controlKg ?? NaN, controlLm: r.losses.controlLm ?? NaN, density: r.losses.density, lambdaReg: r.lambdaReg, sparsity: +(100 * r.sparsity).toFixed(3) })),
  };
  return (
    <ChartFrame title="Subnetwork training" name="subnetwork-curves" testId="subnet-curves" figure={{ kind: 'canvas', caption: 'Loss terms (log scale, solid) and sparsity (dashed, 0–100%) per step' }} table={table} result={() => curve}>
      <canvas ref={canvas} data-chart-canvas style={{ width: CURVE.width, maxWidth: '100%', height: CURVE.height }} role="img" aria-label={`Training curves over ${curve.length} steps`} />
      <ul className="legend small">
        {SERIES.map((s, i) => ({ s, i })).filter(({ s }) => curve.some((r) => r.losses[s.key] !== null)).map(({ s, i }) => (
          <li key={s.key}>
            <span className="swatch" style={{ background: SERIES_COLOURS[i] }} /> {s.label}
          </li>
        ))}
        <li>
          <span className="swatch swatch-dashed" /> sparsity
        </li>
      </ul>
    </ChartFrame>
  );
}

/** Sparsity per layer × masked matrix; darker = more of the matrix kept in the remaining model. */
export function SparsityMap({ report }: { report: SparsityReport }) {
  const layers = [...new Set(report.modules.map((m) => m.layer))].sort((a, b) => a - b);
  const cell = (layer: number, matrix: string) => report.modules.find((m) => m.layer === layer && m.matrix === matrix);
  const shade = scaleLinear<string>().domain([0.5, 1]).range(['#fde0c5', '#0072B2']).clamp(true);
  const table: TableSpec = {
    columns: [{ key: 'module', label: 'layer · matrix' }, { key: 'sparsity', label: 'sparsity %', numeric: true }, { key: 'removed', label: 'weights in subnetwork', numeric: true }, { key: 'total', label: 'weights', numeric: true }],
    rows: report.modules.map((m) => ({ module: `${m.layer} · ${m.matrix}`, sparsity: +(100 * m.sparsity).toFixed(3), removed: m.kept, total: m.total })),
  };
  return (
    <ChartFrame title="Subnetwork sparsity per layer and matrix" name="subnetwork-sparsity" testId="subnet-sparsity" figure={{ kind: 'bars', bars: { title: 'Sparsity per layer and matrix (%)', labelKey: 'module', valueKeys: ['sparsity'] } }} table={table} result={() => report}>
      <table className="sparsity-map" aria-label="Sparsity heatmap">
        <thead>
          <tr>
            <th scope="col">layer</th>
            {MASKABLE_MATRICES.map((m) => (
              <th key={m} scope="col">{m}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {layers.map((layer) => (
            <tr key={layer}>
              <th scope="row">{layer}</th>
              {MASKABLE_MATRICES.map((matrix) => {
                const m = cell(layer, matrix);
                return (
                  <td key={matrix} style={m ? { background: shade(m.sparsity), color: m.sparsity > 0.8 ? '#fff' : '#000' } : undefined} title={m ? `${m.kept} of ${m.total} weights in the subnetwork` : 'not masked'}>
                    {m ? `${(100 * m.sparsity).toFixed(2)}%` : '—'}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </ChartFrame>
  );
}

const fmt = (x: number | undefined) => (x === undefined ? '—' : Math.abs(x) >= 1000 ? x.toExponential(2) : x.toFixed(3));

/** PPL of the full model, the remaining model and the random mask of the same size, with ΔPPL, on target and control facts. */
export function DeltaPplTable({ evaluation }: { evaluation: SubnetEvaluation }) {
  const { full, remaining, random } = evaluation;
  const row = (set: string, key: 'target' | 'controlKg') => ({
    set,
    full: full[key].ppl,
    remaining: remaining[key].ppl,
    delta: evaluation.delta[key],
    random: random ? random.delta[key] : NaN,
    top1Full: +(100 * full[key].top1).toFixed(1),
    top1Remaining: +(100 * remaining[key].top1).toFixed(1),
    answerTop1Full: +(100 * full[key].answerTop1).toFixed(1),
    answerTop1Remaining: +(100 * remaining[key].answerTop1).toFixed(1),
  });
  const table: TableSpec = {
    columns: [
      { key: 'set', label: 'facts' },
      { key: 'full', label: 'PPL full', numeric: true },
      { key: 'remaining', label: 'PPL remaining', numeric: true },
      { key: 'delta', label: 'ΔPPL', numeric: true },
      { key: 'random', label: 'ΔPPL random mask', numeric: true },
      { key: 'top1Full', label: 'top-1 % full', numeric: true },
      { key: 'top1Remaining', label: 'top-1 % remaining', numeric: true },
      { key: 'answerTop1Full', label: 'facts answered % full', numeric: true },
      { key: 'answerTop1Remaining', label: 'facts answered % remaining', numeric: true },
    ],
    rows: [row('target (removed)', 'target'), row('control (kept)', 'controlKg')],
  };
  return (
    <ChartFrame title="ΔPPL of the remaining model" name="subnetwork-delta-ppl" testId="subnet-delta" figure={{ kind: 'bars', bars: { title: 'Facts answered (every answer token top-1, %), full vs remaining model', labelKey: 'set', valueKeys: ['answerTop1Full', 'answerTop1Remaining'] } }} table={table} result={() => evaluation}>
      <p className="small">
        Target PPL {fmt(full.target.ppl)} → {fmt(remaining.target.ppl)}, control PPL {fmt(full.controlKg.ppl)} → {fmt(remaining.controlKg.ppl)}; a random mask removing as many weights per matrix changes them by {fmt(random?.delta.target)} and {fmt(random?.delta.controlKg)}.
      </p>
    </ChartFrame>
  );
}
