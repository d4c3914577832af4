import { useMemo } from 'react';
import { buildGrid, coarseCounter, promptMaxima, slug } from '../knowledge';
import { useNeurons, type MapValue } from '../neuron-store';
import { ChartFrame } from './ChartFrame';
import { ErrorMessage } from './ErrorMessage';
import { legendGradient } from './map-draw';
import { fmt, NeuronMap } from './NeuronMap';
import { NeuronTable } from './NeuronTable';

/** The neuron map card: value and prompt toggles, legend, the map, and its table twin. */
export function NeuronMapPanel() {
  const result = useNeurons((s) => s.result);
  const refined = useNeurons((s) => s.refined);
  const settings = useNeurons((s) => s.settings);
  const mapValue = useNeurons((s) => s.mapValue);
  const mapPrompt = useNeurons((s) => s.mapPrompt);
  const activation = useNeurons((s) => s.activation);
  const activationLoading = useNeurons((s) => s.activationLoading);
  const activationError = useNeurons((s) => s.activationError);
  const zoom = useNeurons((s) => s.zoom);
  const selected = useNeurons((s) => s.selected);
  const { setMapValue, setMapPrompt, setZoom, select } = useNeurons.getState();

  const source = mapValue === 'activation' ? activation : result?.scores;
  const grid = useMemo(() => (source ? buildGrid(source, mapPrompt) : undefined), [source, mapPrompt]);
  const maxima = useMemo(() => (result ? promptMaxima(result.scores) : []), [result]);
  const countOf = useMemo(() => (result ? coarseCounter(result.scores, maxima, settings.t, settings.strict) : () => 0), [result, maxima, settings.t, settings.strict]);
  const refinedSet = useMemo(() => new Set((refined?.neurons ?? []).map((n) => `${n.layer}:${n.index}`)), [refined]);

  if (!result) {
    return (
      <section className="card" aria-labelledby="map-heading" data-testid="map-panel">
        <h2 id="map-heading">Neuron map</h2>
        <p className="muted">Find the knowledge neurons of a fact to see every layer’s neurons here.</p>
      </section>
    );
  }
  const valueLabel = mapValue === 'activation' ? 'activation' : result.method === 'ig' ? 'attribution' : 'activation score';
  const what = `${valueLabel}${mapPrompt === undefined ? ' summed over prompts' : ` of prompt ${mapPrompt + 1}`}`;

  return (
    <section className="card" aria-labelledby="map-heading" data-testid="map-panel">
      <h2 id="map-heading">Neuron map</h2>
      <div className="map-controls">
        <fieldset className="segmented">
          <legend className="visually-hidden">Value</legend>
          {(['attribution', 'activation'] as MapValue[]).map((v) => (
            <label key={v} className={mapValue === v ? 'on' : ''}>
              <input type="radio" name="map-value" value={v} checked={mapValue === v} onChange={() => void setMapValue(v)} data-testid={`map-value-${v}`} />
              {v === 'attribution' ? (result.method === 'ig' ? 'Attribution' : 'Score') : 'Activation'}
            </label>
          ))}
        </fieldset>
        <label className="inline-label">
          Prompt
          <select data-testid="map-prompt" value={mapPrompt ?? ''} onChange={(e) => setMapPrompt(e.target.value === '' ? undefined : Number(e.target.value))}>
            <option value="">all (summed)</option>
            {result.prompts.map((p, i) => (
              <option key={i} value={i}>
                {i + 1}: {p.length > 48 ? `${p.slice(0, 47)}…` : p}
              </option>
            ))}
          </select>
        </label>
        {grid && (
          <div className="legend" aria-label={`Colour scale: orange negative, purple positive, square-root scale up to ${fmt(grid.maxAbs)}`}>
            <span className="small">−{fmt(grid.maxAbs)}</span>
            <span className="legend-bar" style={{ background: legendGradient() }} />
            <span className="small">+{fmt(grid.maxAbs)}</span>
            <span className="muted small">(√ scale) ■ = knowledge neuron</span>
          </div>
        )}
      </div>
      {activationLoading && <p className="muted small">Reading the activations…</p>}
      <ErrorMessage error={activationError} where="activation" onDismiss={() => useNeurons.setState({ activationError: undefined })} />
      <p className="muted small map-caption">
        {what} at the position predicting the answer; {result.attribution.site}-GELU neurons; rows are layers (top = last layer).
      </p>
      {grid ? (
        <ChartFrame
          title={`Neuron map: ${what} for “${result.prompts[0]}” →${result.target}`}
          name={`neuron-map-${slug(`${result.prompts[0]} ${result.target}`)}${zoom ? `-${zoom[0]}-${zoom[1]}` : ''}`}
          testId="neuron-map-chart"
          figure={{ kind: 'canvas', caption: `rows: layers ${grid.layers[0]}–${grid.layers[grid.layers.length - 1]} (top = last); columns: neurons ${zoom ? `${zoom[0]}–${zoom[1] - 1}` : `0–${grid.width - 1}`}; PuOr √ scale ±${fmt(grid.maxAbs)}; boxes = knowledge neurons` }}
          result={() => ({ ...result, refined, activation: mapValue === 'activation' ? activation : undefined })}
          twin={<NeuronTable grid={grid} countOf={countOf} refined={refinedSet} selected={selected} valueLabel={valueLabel} onSelect={select} />}
        >
          <NeuronMap
            grid={grid}
            refined={refined?.neurons ?? []}
            selected={selected}
            zoom={zoom}
            countOf={countOf}
            prompts={result.prompts.length}
            valueLabel={valueLabel}
            onSelect={select}
            onZoom={setZoom}
          />
        </ChartFrame>
      ) : (
        !activationLoading && <p className="muted">No values to show.</p>
      )}
    </section>
  );
}
