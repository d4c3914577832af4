import type { Progress } from '../../worker/protocol';
import { formatEta } from '../format';

/** Progress of a long worker operation, with an optional Cancel button. */
export function ProgressBar({ title, progress, onCancel, testId, cancelTestId }: { title: string; progress: Progress; onCancel?: () => void; testId: string; cancelTestId: string }) {
  const eta = formatEta(progress.etaSeconds);
  const labelId = `${testId}-label`;
  return (
    <div className="progress" data-testid={testId}>
      <div className="progress-head">
        <span id={labelId}>
          {title}… {Math.round(progress.fraction * 100)}%
        </span>
        {onCancel && (
          <button type="button" onClick={onCancel} data-testid={cancelTestId}>
            Cancel
          </button>
        )}
      </div>
      <progress aria-labelledby={labelId} max={1} value={progress.fraction} />
      <div className="progress-detail">
        {progress.detail ?? progress.stage}
        {eta && ` — ${eta}`}
      </div>
    </div>
  );
}
