import type { Progress } from '../../worker/protocol';
import { formatEta } from '../format';

export function ProgressBar({ label, progress, onCancel }: { label: string; progress: Progress; onCancel?: () => void }) {
  const percent = Math.round(progress.fraction * 100);
  const eta = formatEta(progress.etaSeconds);
  return (
    <div className="progress" data-testid="load-progress">
      <div className="progress-head">
        <span id="load-progress-label">
          Loading {label}… {percent}%
        </span>
        {onCancel && (
          <button type="button" onClick={onCancel} data-testid="cancel-load">
            Cancel
          </button>
        )}
      </div>
      <progress aria-labelledby="load-progress-label" max={1} value={progress.fraction} />
      <div className="progress-detail">
        {progress.detail}
        {eta && ` — ${eta}`}
      </div>
    </div>
  );
}
