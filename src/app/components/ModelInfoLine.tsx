import { formatBytes, formatCount } from '../format';
import { useLab } from '../store';

/** One line about the loaded model: id, size and shape. */
export function ModelInfoLine() {
  const model = useLab((s) => s.model);
  if (!model) return null;
  const { shape } = model;
  const bytes = model.files.reduce((a, f) => a + f.bytes, 0);
  return (
    <p className="model-info" data-testid="model-info">
      <code title={model.description}>{model.id}</code>
      <span>{model.arch.toUpperCase()}</span>
      <span>{shape.nLayer} layers</span>
      <span>width {shape.nEmbd}</span>
      <span>{shape.nInner} neurons/layer</span>
      <span>{shape.nHead} heads</span>
      <span>vocab {shape.vocabSize.toLocaleString('en')}</span>
      <span>{formatCount(model.parameters)} parameters</span>
      <span>{formatBytes(bytes)}</span>
    </p>
  );
}
