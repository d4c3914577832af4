import type { TableSpec } from '../chart-export';
import { formatProb, visibleToken } from '../format';
import { useIntervention } from '../intervention-store';
import { meanChange, slug } from '../knowledge';
import { useNeurons } from '../neuron-store';
import { ChartFrame } from './ChartFrame';
import { ErrorMessage } from './ErrorMessage';

type Bar = NonNullable<ReturnType<typeof useIntervention.getState>['bars']>[number];

/** Probability of the target before and after scaling the chosen neurons, for the fact's prompts and for control facts. */
export function BeforeAfter() {
  const result = useNeurons((s) => s.result);
  const bars = useIntervention((s) => s.bars);
  const barsFor = useIntervention((s) => s.barsFor);
  const pending = useIntervention((s) => s.pending);
  const error = useIntervention((s) => s.interveneError);
  const edits = useIntervention((s) => s.edits);

  if (!result) {
    return (
      <section className="card" aria-labelledby="ba-heading" data-testid="before-after">
        <h2 id="ba-heading">Before / after</h2>
        <p className="muted">Once the knowledge neurons are found, this shows how scaling them changes the probability of the fact — and of unrelated control facts.</p>
      </section>
    );
  }
  const own = bars?.filter((b) => b.item.kind === 'own') ?? [];
  const controls = bars?.filter((b) => b.item.kind === 'control') ?? [];
  const ownChange = meanChange(own.map((b) => ({ before: b.before.prob, after: b.after.prob })));
  const controlChange = meanChange(controls.map((b) => ({ before: b.before.prob, after: b.after.prob })));
  const max = Math.max(1e-9, ...(bars ?? []).flatMap((b) => [b.before.prob, b.after.prob]));
  const n = barsFor?.neurons.length ?? 0;

  return (
    <section className="card" aria-labelledby="ba-heading" data-testid="before-after" aria-busy={pending} data-edits={barsFor?.edits.length}>
      <h2 id="ba-heading">Before / after</h2>
      <ErrorMessage error={error} where="intervene" />
      {!bars && !error && <p className="muted">Computing…</p>}
      {bars && barsFor && (
        <div className={pending ? 'results-stale' : ''}>
          <p className="small ba-summary">
            {n === 0 ? 'No neurons in the set: before and after are the same.' : `${n} neuron${n === 1 ? '' : 's'} scaled × ${barsFor.scale.toFixed(2)}`}
            {barsFor.edits.length > 0 && <span className="muted"> · both with {barsFor.edits.length} active edit{barsFor.edits.length === 1 ? '' : 's'}</span>}
          </p>
          <div className="ba-changes">
            <Change label="This fact" testId="own-change" value={ownChange.ratioOfMeans} other={ownChange.meanOfRatios} />
            <Change label="Control facts" testId="control-change" value={controlChange.ratioOfMeans} other={controlChange.meanOfRatios} />
          </div>
          <div className="ba-legend small" aria-hidden="true">
            <span className="swatch swatch-before" /> before <span className="swatch swatch-after" /> after — bars scaled to {formatProb(max)}
          </div>
          <ChartFrame
            title={`P(target) before and after scaling ${n} neuron${n === 1 ? '' : 's'} × ${barsFor.scale}`}
            name={`before-after-${slug(`${result.prompts[0]} ${result.target}`)}`}
            testId="before-after-frame"
            figure={{ kind: 'bars', bars: { title: `P(target) before / after × ${barsFor.scale} on ${n} neuron${n === 1 ? '' : 's'}`, labelKey: 'label', valueKeys: ['before', 'after'], format: formatProb } }}
            table={barsTable(bars)}
            result={() => ({ neurons: barsFor.neurons, scale: barsFor.scale, edits: edits.filter((e) => barsFor.edits.includes(e.id)), change: { fact: ownChange, controls: controlChange }, rows: bars })}
          >
            <BarGroup title={`This fact: P(${visibleToken(result.target)})`} bars={own} max={max} />
            {controls.length > 0 && <BarGroup title="Control facts (other relations)" bars={controls} max={max} />}
          </ChartFrame>
        </div>
      )}
    </section>
  );
}

function barsTable(bars: Bar[]): TableSpec {
  return {
    columns: [
      { key: 'kind', label: 'Kind' },
      { key: 'label', label: 'Prompt / fact' },
      { key: 'target', label: 'Target' },
      { key: 'before', label: 'Before', numeric: true },
      { key: 'after', label: 'After', numeric: true },
      { key: 'change', label: 'Change %', numeric: true },
    ],
    rows: bars.map((b) => ({
      kind: b.item.kind === 'own' ? 'this fact' : 'control',
      label: b.item.kind === 'own' ? b.item.prompt : b.item.label,
      target: visibleToken(b.item.target),
      before: b.before.prob,
      after: b.after.prob,
      change: b.before.prob > 0 ? ((b.after.prob - b.before.prob) / b.before.prob) * 100 : NaN,
    })),
  };
}

function Change({ label, testId, value, other }: { label: string; testId: string; value: number; other: number }) {
  const text = Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(1)}%` : '–';
  return (
    <div className="change" data-testid={testId} data-value={Number.isFinite(value) ? value : ''}>
      <span className="muted small">{label}</span>
      <strong className={value <= -1 ? 'down' : value >= 1 ? 'up' : ''}>{text}</strong>
      <span className="muted small" title="Mean of the per-prompt changes (EleutherAI's aggregation); the large number is the change of the mean probability (the official one).">
        mean of ratios {Number.isFinite(other) ? `${other >= 0 ? '+' : ''}${other.toFixed(1)}%` : '–'}
      </span>
    </div>
  );
}

function BarGroup({ title, bars, max }: { title: string; bars: Bar[]; max: number }) {
  return (
    <table className="ba-table">
      <caption>{title}</caption>
      <thead className="visually-hidden">
        <tr>
          <th scope="col">Prompt</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {bars.map((b, i) => (
          <tr key={i} data-testid="ba-row" data-kind={b.item.kind} data-before={b.before.prob} data-after={b.after.prob}>
            <th scope="row" className="ba-label" title={`${b.item.prompt} →${b.item.target}`}>
              {b.item.kind === 'control' ? <span>{b.item.label}</span> : <span>{b.item.prompt}</span>}
            </th>
            <td className="ba-bars">
              <div className="ba-pair">
                <div className="ba-bar ba-before" style={{ width: `${(b.before.prob / max) * 70}%` }} />
                <span className="ba-num">{formatProb(b.before.prob)}</span>
              </div>
              <div className="ba-pair">
                <div className="ba-bar ba-after" style={{ width: `${(b.after.prob / max) * 70}%` }} />
                <span className="ba-num">
                  {formatProb(b.after.prob)}
                  {b.before.top1 !== b.after.top1 && <span className="muted">{b.after.top1 ? ' (now top-1)' : ' (no longer top-1)'}</span>}
                </span>
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
