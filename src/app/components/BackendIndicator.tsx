import type { BackendName } from '../../core/backend';
import { BACKEND_CHOICES, BACKEND_LABELS as LABELS, useLab } from '../store';
import { ErrorMessage } from './ErrorMessage';

/** Which TensorFlow.js backend runs the model, why others were skipped, and a way to force one. */
export function BackendIndicator() {
  const status = useLab((s) => s.backendStatus);
  const backend = useLab((s) => s.backend);
  const error = useLab((s) => s.backendError);
  const forced = useLab((s) => s.forcedBackend);
  const switchBackend = useLab((s) => s.switchBackend);
  const notice = useLab((s) => s.backendNotice);
  const dismissNotice = useLab((s) => s.dismissBackendNotice);

  const name = status === 'starting' ? 'starting…' : (backend?.name ?? 'none');
  const features = backend?.wasmFeatures ? `SIMD ${backend.wasmFeatures.simd ? 'on' : 'off'}, threads ${backend.wasmFeatures.threads ? 'on' : 'off'}` : undefined;
  const skipped = backend?.skipped ?? [];
  const summary = skipped.length ? skipped.map((s) => `${s.name}: ${s.reason}`).join('\n') : undefined;

  return (
    <div className="backend">
      <div className="backend-row">
        <span className="backend-label">Backend</span>
        <span className={`badge badge-${status}`} data-testid="backend-name" data-state={status} title={summary ? `Skipped:\n${summary}` : features}>
          {name}
        </span>
        <label className="backend-select">
          <span className="visually-hidden">Force a backend</span>
          <select
            aria-label="Force a backend"
            data-testid="backend-select"
            value={forced ?? 'auto'}
            disabled={status === 'starting'}
            onChange={(e) => void switchBackend(e.target.value === 'auto' ? undefined : (e.target.value as BackendName))}
          >
            <option value="auto">auto (best available)</option>
            {BACKEND_CHOICES.map((b) => (
              <option key={b} value={b}>
                {LABELS[b]}
              </option>
            ))}
          </select>
        </label>
      </div>
      {(features || skipped.length > 0) && (
        <details className="backend-details">
          <summary>details</summary>
          {features && <p>WebAssembly: {features}.</p>}
          {skipped.length > 0 && (
            <ul>
              {skipped.map((s) => (
                <li key={s.name}>
                  <strong>{LABELS[s.name]}</strong> skipped: {s.reason}
                </li>
              ))}
            </ul>
          )}
        </details>
      )}
      {notice && (
        <p className="backend-notice" role="status" data-testid="backend-notice">
          {notice}{' '}
          <button type="button" className="link-button" onClick={dismissNotice}>
            dismiss
          </button>
        </p>
      )}
      <ErrorMessage error={error} where="backend" />
    </div>
  );
}
