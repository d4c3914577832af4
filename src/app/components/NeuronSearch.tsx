import { useEffect, useState } from 'react';
import type { RefinePreset } from '../../core/knowledge/refine';
import { RULES, type IgBaseline, type RiemannRule } from '../../core/knowledge/riemann';
import { currentPrompts, useFacts } from '../facts-store';
import { download, neuronsCsv, neuronsJson, slug } from '../knowledge';
import { useNeurons } from '../neuron-store';
import { useLab } from '../store';
import { ErrorMessage } from './ErrorMessage';
import { ProgressBar } from './ProgressBar';

const PRESETS: Array<[RefinePreset, string]> = [
  ['project', 'project (default)'],
  ['official-kn', 'official-kn (Dai et al. code)'],
  ['eleutherai', 'eleutherai'],
];

/** "Find knowledge neurons": settings, run with progress and cancel, live t/p refinement, the neuron list and exports. */
export function NeuronSearch() {
  const settings = useNeurons((s) => s.settings);
  const setSettings = useNeurons((s) => s.setSettings);
  const applyPreset = useNeurons((s) => s.applyPreset);
  const running = useNeurons((s) => s.running);
  const progress = useNeurons((s) => s.progress);
  const error = useNeurons((s) => s.searchError);
  const result = useNeurons((s) => s.result);
  const refinedCount = useNeurons((s) => s.refined?.neurons.length ?? 0);
  const find = useNeurons((s) => s.find);
  const cancel = useNeurons((s) => s.cancel);
  const model = useLab((s) => s.model);
  const loading = useLab((s) => s.loading);
  // A masked model is attributed from zero only (the AMIG baseline substitutes GPT-2's EOS).
  const baseline = model?.objective === 'masked' ? 'zero' : settings.baseline;
  const promptCount = 1 + useFacts((s) => s.paraphrases.filter((p) => p.trim() !== '').length);
  const state = running ? 'running' : error && error.code !== 'cancelled' ? 'error' : result ? 'done' : 'idle';

  return (
    <section className="card" aria-labelledby="kn-heading" data-testid="kn-panel">
      <h2 id="kn-heading">Knowledge neurons</h2>
      <p className="muted small intro">
        Integrated gradients score every feed-forward neuron of every layer for each prompt of the fact; a neuron is a knowledge neuron when it scores at least
        t × the prompt&apos;s maximum in at least p of the prompts (Dai et al. 2022).
      </p>
      <details className="settings" data-testid="kn-settings">
        <summary>Settings</summary>
        <div className="settings-grid">
          <label>
            Method
            <select data-testid="kn-method" value={settings.method} onChange={(e) => setSettings({ method: e.target.value as 'ig' | 'activation' })}>
              <option value="ig">integrated gradients</option>
              <option value="activation">activation baseline</option>
            </select>
          </label>
          <label>
            Preset
            <select data-testid="kn-preset" value={settings.preset} onChange={(e) => applyPreset(e.target.value as RefinePreset)}>
              {PRESETS.map(([id, label]) => (
                <option key={id} value={id}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <StepsInput value={settings.steps} disabled={settings.method !== 'ig'} onChange={(steps) => setSettings({ steps })} />
          <label>
            Rule
            <select data-testid="kn-rule" value={settings.rule} disabled={settings.method !== 'ig'} onChange={(e) => setSettings({ rule: e.target.value as RiemannRule })}>
              {RULES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            Site
            <select data-testid="kn-site" value={settings.site} onChange={(e) => setSettings({ site: e.target.value as 'post' | 'pre' })}>
              <option value="post">post-GELU</option>
              <option value="pre">pre-GELU</option>
            </select>
          </label>
          <label title="AMIG (Chen et al., AAAI 2024): the path starts at the mean activation with one prompt token at a time replaced by EOS; GPT-2 only">
            IG baseline
            <select data-testid="kn-baseline" value={baseline} disabled={settings.method !== 'ig' || model?.objective === 'masked'} onChange={(e) => setSettings({ baseline: e.target.value as IgBaseline })}>
              <option value="zero">zero</option>
              <option value="amig">AMIG</option>
            </select>
          </label>
          <p className="muted small settings-note">
            Comparisons {settings.strict ? 'strict (>)' : 'inclusive (≥)'}; {settings.minPrompts ? `at least ${settings.minPrompts} prompts when the fact has 3 or more` : 'no minimum number of prompts'}.
          </p>
        </div>
      </details>
      <div className="run-row">
        <button type="submit" onClick={() => void find()} disabled={running || !model || !!loading} data-testid="find-neurons">
          Find knowledge neurons
        </button>
        <span className="muted small">
          {promptCount} prompt{promptCount === 1 ? '' : 's'} · {settings.method === 'ig' ? `IG, m = ${settings.steps}, ${settings.rule}${baseline === 'amig' ? ', AMIG baseline' : ''}` : 'activation'} · {settings.site}
        </span>
        <span className="visually-hidden" data-testid="kn-status" data-state={state} aria-live="polite">
          {state === 'done' && result ? `Found ${refinedCount} neurons in ${result.seconds.toFixed(1)} seconds.` : ''}
        </span>
      </div>
      {running && progress && <ProgressBar title="Searching" progress={progress} onCancel={cancel} testId="kn-progress" cancelTestId="cancel-search" />}
      {error?.code === 'cancelled' ? (
        <p className="muted small" role="status" data-testid="kn-cancelled">
          {error.message}
        </p>
      ) : (
        <ErrorMessage error={error} where="kn-search" onDismiss={() => useNeurons.setState({ searchError: undefined })} />
      )}
      <Thresholds />
      {result && <NeuronList />}
      {result && <StaleNote />}
    </section>
  );
}

function StepsInput({ value, disabled, onChange }: { value: number; disabled: boolean; onChange(steps: number): void }) {
  const [text, setText] = useState(String(value));
  useEffect(() => setText(String(value)), [value]);
  const n = Number(text);
  const bad = !(Number.isInteger(n) && n >= 1 && n <= 200);
  return (
    <label>
      Steps m
      <input
        type="number"
        min={1}
        max={200}
        step={1}
        data-testid="kn-steps"
        value={text}
        disabled={disabled}
        aria-invalid={bad}
        onChange={(e) => {
          setText(e.target.value);
          const v = Number(e.target.value);
          if (Number.isInteger(v) && v >= 1 && v <= 200) onChange(v);
        }}
      />
      {bad && <small className="field-error">A whole number from 1 to 200.</small>}
    </label>
  );
}

/** The t and p sliders: they refine the last result in the page, with no worker call. */
function Thresholds() {
  const t = useNeurons((s) => s.settings.t);
  const p = useNeurons((s) => s.settings.p);
  const setRefine = useNeurons((s) => s.setRefine);
  return (
    <div className="thresholds">
      <label>
        <span>
          t (coarse) = <strong data-testid="t-value">{t.toFixed(2)}</strong> × max
        </span>
        <input type="range" min={0} max={1} step={0.01} value={t} data-testid="t-slider" onChange={(e) => setRefine({ t: Number(e.target.value) })} />
      </label>
      <label>
        <span>
          p (shared) = <strong data-testid="p-value">{p.toFixed(2)}</strong> of prompts
        </span>
        <input type="range" min={0} max={1} step={0.05} value={p} data-testid="p-slider" onChange={(e) => setRefine({ p: Number(e.target.value) })} />
      </label>
    </div>
  );
}

function NeuronList() {
  const result = useNeurons((s) => s.result)!;
  const refined = useNeurons((s) => s.refined);
  const selected = useNeurons((s) => s.selected);
  const select = useNeurons((s) => s.select);
  const neurons = refined?.neurons ?? [];
  const name = slug(`${result.prompts[0]} ${result.target}`);
  const byLayer = new Map<number, number>();
  for (const n of neurons) byLayer.set(n.layer, (byLayer.get(n.layer) ?? 0) + 1);
  return (
    <div className="neuron-result">
      <p data-testid="neuron-count" data-count={neurons.length}>
        <strong>{neurons.length}</strong> knowledge neuron{neurons.length === 1 ? '' : 's'}
        {refined && (
          <span className="muted">
            {' '}
            — in the coarse sets of at least {Math.max(1, refined.settings.strict ? Math.floor(refined.required) + 1 : Math.ceil(refined.required - 1e-9))} of {refined.prompts} prompts; coarse-set sizes: {refined.coarseSizes.join(', ')}
          </span>
        )}
      </p>
      {byLayer.size > 0 && (
        <p className="muted small">
          By layer: {[...byLayer.entries()].sort((a, b) => a[0] - b[0]).map(([l, c]) => `L${l}: ${c}`).join(' · ')} · search took {result.seconds.toFixed(1)} s
        </p>
      )}
      {neurons.length === 0 && <p className="muted small">No neuron passes both thresholds: lower t or p, or add prompts.</p>}
      <div className="neuron-chips" data-testid="neuron-list" aria-label="Knowledge neurons, [layer, index], each with the number of prompts that share it">
        <code className="neuron-json">[</code>
        {neurons.slice(0, 200).map((n, k) => {
          const isSel = selected?.[0] === n.layer && selected?.[1] === n.index;
          return (
            <button
              key={`${n.layer}:${n.index}`}
              type="button"
              className={`chip${isSel ? ' chip-selected' : ''}`}
              data-testid="neuron-chip"
              aria-pressed={isSel}
              title={`in ${n.count} prompts' coarse sets; summed score ${n.total.toPrecision(3)}`}
              onClick={() => select([n.layer, n.index])}
            >
              [{n.layer}, {n.index}]<span className="chip-count">{n.count}/{refined?.prompts}</span>
              {k < neurons.length - 1 ? ',' : ''}
            </button>
          );
        })}
        {neurons.length > 200 && <span className="muted small">… {neurons.length - 200} more (in the exports)</span>}
        <code className="neuron-json">]</code>
      </div>
      <div className="inline">
        <span className="muted small">Export:</span>
        <button type="button" disabled={neurons.length === 0} onClick={() => download(`${name}-neurons.json`, neuronsJson(neurons), 'application/json')} data-testid="export-neurons-json">
          JSON [[layer, index], …]
        </button>
        <button type="button" disabled={neurons.length === 0} onClick={() => download(`${name}-neurons.csv`, neuronsCsv(neurons), 'text/csv')} data-testid="export-neurons-csv">
          CSV
        </button>
      </div>
    </div>
  );
}

function StaleNote() {
  const result = useNeurons((s) => s.result)!;
  // Re-render when the prompts or the target change.
  useLab((s) => s.prompt);
  const target = useLab((s) => s.target);
  useFacts((s) => s.paraphrases);
  const now = currentPrompts();
  const stale = target !== result.target || now.length !== result.prompts.length || now.some((p, i) => p !== result.prompts[i]);
  if (!stale) return null;
  return (
    <p className="note small" data-testid="kn-stale">
      The prompts or the target changed since this search; the map and the neurons are for “{result.prompts[0]}” → “{result.target.trim()}”. Run the search again to update them.
    </p>
  );
}
