import type { TableSpec } from '../chart-export';
import { visibleToken } from '../format';
import { useIntervention, type NeuronInfo } from '../intervention-store';
import { scoreOf } from '../knowledge';
import { useNeurons } from '../neuron-store';
import { ChartFrame } from './ChartFrame';
import { ErrorMessage } from './ErrorMessage';
import { fmt } from './NeuronMap';

/** The factor slider and the neuron set it acts on (drives the before/after view and the edits). */
export function InterventionControls() {
  const scale = useIntervention((s) => s.scale);
  const scope = useIntervention((s) => s.scope);
  const setScale = useIntervention((s) => s.setScale);
  const setScope = useIntervention((s) => s.setScope);
  const refinedCount = useNeurons((s) => s.refined?.neurons.length ?? 0);
  const selected = useNeurons((s) => s.selected);
  const meaning = scale === 0 ? 'suppressed (set to 0)' : scale === 1 ? 'unchanged' : scale < 1 ? 'weakened' : 'amplified';
  return (
    <div className="intervention" data-testid="intervention">
      <label className="scale-label">
        <span>
          Scale the activations × <strong data-testid="scale-value">{scale.toFixed(2)}</strong> <span className="muted">({meaning})</span>
        </span>
        <input type="range" min={0} max={3} step={0.05} value={scale} data-testid="scale-slider" onChange={(e) => setScale(Number(e.target.value))} />
        <span className="range-ticks muted small" aria-hidden="true">
          <span>0 suppress</span>
          <span>1</span>
          <span>2 amplify</span>
          <span>3</span>
        </span>
      </label>
      <fieldset className="radio-list">
        <legend className="small">Acts on</legend>
        <label>
          <input type="radio" name="scope" checked={scope === 'refined'} onChange={() => setScope('refined')} data-testid="scope-refined" />
          all {refinedCount} knowledge neuron{refinedCount === 1 ? '' : 's'}
        </label>
        <label>
          <input type="radio" name="scope" checked={scope === 'selected'} onChange={() => setScope('selected')} data-testid="scope-selected" />
          {selected ? `the selected neuron L${selected[0]} #${selected[1]}` : 'the selected neuron (none yet)'}
        </label>
      </fieldset>
    </div>
  );
}

/** One neuron: its attribution per prompt, its activation, and what its value vector writes. */
export function NeuronInspector() {
  const result = useNeurons((s) => s.result);
  const selected = useNeurons((s) => s.selected);
  const refined = useNeurons((s) => s.refined);
  const info = useIntervention((s) => s.info);
  const infoError = useIntervention((s) => s.infoError);
  const edits = useIntervention((s) => s.edits);

  return (
    <section className="card" aria-labelledby="inspector-heading" data-testid="inspector">
      <h2 id="inspector-heading">Neuron inspector</h2>
      {result && <InterventionControls />}
      {!result && <p className="muted">Find knowledge neurons, then pick one on the map, in the list or with the arrow keys.</p>}
      {result && !selected && <p className="muted">Click a neuron on the map to inspect it.</p>}
      {result && selected && (
        <InspectorBody
          key={selected.join(':')}
          layer={selected[0]}
          index={selected[1]}
          isRefined={!!refined?.neurons.some((n) => n.layer === selected[0] && n.index === selected[1])}
          edited={edits.some((e) => e.slots.some((s) => s.param === `h.${selected[0]}.mlp.c_proj.weight` && s.row === selected[1]))}
        />
      )}
      <ErrorMessage error={infoError} where="neuron-info" />
      {info && selected && info.neuron[0] === selected[0] && info.neuron[1] === selected[1] && <Writes info={info} />}
    </section>
  );
}

function Writes({ info }: { info: NeuronInfo }) {
  const [layer, index] = info.neuron;
  const table: TableSpec = {
    columns: [
      { key: 'direction', label: 'Direction' },
      { key: 'token', label: 'Token' },
      { key: 'id', label: 'Token id', numeric: true },
      { key: 'logit', label: 'Logit', numeric: true },
    ],
    rows: [...info.promotes.map((t) => ({ direction: 'promotes', token: visibleToken(t.text), id: t.id, logit: t.logit })), ...info.suppresses.map((t) => ({ direction: 'suppresses', token: visibleToken(t.text), id: t.id, logit: t.logit }))],
  };
  const title = `What L${layer} #${index} writes (value vector · unembedding)`;
  return (
    <div className="writes" data-testid="neuron-writes">
      <h3>
        What it writes <span className="muted small">(value vector · unembedding; ‖v‖ = {fmt(info.valueNorm)})</span>
      </h3>
      <ChartFrame title={title} name={`neuron-L${layer}-${index}-writes`} testId="writes-frame" figure={{ kind: 'bars', bars: { title, labelKey: 'token', valueKeys: ['logit'], format: (v) => v.toFixed(2) } }} table={table} result={() => info}>
        <div className="writes-columns">
          <TokenColumn title="Promotes" testId="promotes" tokens={info.promotes} />
          <TokenColumn title="Suppresses" testId="suppresses" tokens={info.suppresses} />
        </div>
      </ChartFrame>
    </div>
  );
}

function InspectorBody({ layer, index, isRefined, edited }: { layer: number; index: number; isRefined: boolean; edited: boolean }) {
  const result = useNeurons((s) => s.result)!;
  const activation = useNeurons((s) => s.activation);
  const values = result.scores.map((p) => scoreOf(p, [layer, index]));
  const acts = activation?.map((p) => scoreOf(p, [layer, index]));
  const max = Math.max(1e-12, ...values.map(Math.abs));
  const valueName = result.method === 'ig' ? 'Attribution' : 'Score';
  const table: TableSpec = {
    columns: [
      { key: 'prompt', label: 'Prompt' },
      { key: 'value', label: valueName, numeric: true },
      ...(acts ? [{ key: 'activation', label: 'Activation', numeric: true }] : []),
    ],
    rows: result.prompts.map((prompt, i) => ({ prompt, value: values[i], ...(acts ? { activation: acts[i] } : {}) })),
  };
  const title = `Layer ${layer}, neuron ${index}: ${valueName.toLowerCase()} per prompt`;
  return (
    <div className="inspector-body" data-testid="inspector-neuron" data-neuron={`${layer}:${index}`}>
      <p className="inspector-title">
        <strong>
          Layer {layer}, neuron {index}
        </strong>{' '}
        {isRefined && <span className="pill">knowledge neuron</span>} {edited && <span className="pill pill-warn">value slot edited</span>}
      </p>
      <ChartFrame
        title={title}
        name={`neuron-L${layer}-${index}-per-prompt`}
        testId="per-prompt-frame"
        figure={{ kind: 'bars', bars: { title, labelKey: 'prompt', valueKeys: ['value'] } }}
        table={table}
        result={() => ({ neuron: [layer, index], method: result.method, site: result.attribution.site, target: result.target, prompts: table.rows })}
      >
        <table className="data-table per-prompt">
          <caption className="small">{valueName} per prompt</caption>
          <thead>
            <tr>
              <th scope="col">Prompt</th>
              <th scope="col" className="num">
                {valueName}
              </th>
              <th scope="col" className="bar-col">
                <span className="visually-hidden">Bar</span>
              </th>
              {acts && (
                <th scope="col" className="num">
                  Activation
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {result.prompts.map((p, i) => (
              <tr key={i}>
                <td className="prompt-cell" title={p}>
                  {i + 1}. {p}
                </td>
                <td className="num">{fmt(values[i])}</td>
                <td className="bar-col" aria-hidden="true">
                  <div className="signed-track">
                    <div className={`signed-bar ${values[i] < 0 ? 'neg' : 'pos'}`} style={{ width: `${(Math.abs(values[i]) / max) * 50}%`, [values[i] < 0 ? 'right' : 'left']: '50%' }} />
                  </div>
                </td>
                {acts && <td className="num">{fmt(acts[i])}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </ChartFrame>
    </div>
  );
}

function TokenColumn({ title, testId, tokens }: { title: string; testId: string; tokens: Array<{ id: number; text: string; logit: number }> }) {
  return (
    <div>
      <h4>{title}</h4>
      <ol className="token-list" data-testid={testId}>
        {tokens.map((t) => (
          <li key={t.id}>
            <code className="token">{visibleToken(t.text)}</code> <span className="muted small">{t.logit.toFixed(2)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}
