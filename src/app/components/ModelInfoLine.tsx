import { formatBytes, formatCount } from '../format';
import { useLab } from '../store';

/** One line about the loaded model: id, size and shape. */
export function ModelInfoLine() {
  const model = useLab((s) => s.model);
  if (!model) return null;
  const { config } = model;
  const bytes = model.files.reduce((a, f) => a + f.bytes, 0);
  return (
    <p className="model-info" data-testid="model-info">
      <code title={model.description}>{model.id}</code>
      <span>{model.arch.toUpperCase()}</span>
      <span>{config.nLayer} layers</span>
      <span>width {config.nEmbd}</span>
      <span>{config.nInner} neurons/layer</span>
      <span>{config.nHead} heads</span>
      <span>vocab {config.vocabSize.toLocaleString('en')}</span>
      <span>{formatCount(model.parameters)} parameters</span>
      <span>{formatBytes(bytes)}</span>
    </p>
  );
}
