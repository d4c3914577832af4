import type { UiError } from '../store';

/** A visible, announced error message; `where` tells tests and styles which part failed. */
export function ErrorMessage({ error, where, onDismiss }: { error: UiError | undefined; where: string; onDismiss?: () => void }) {
  if (!error) return null;
  return (
    <div className="alert" role="alert" data-testid="error-message" data-where={where} data-code={error.code}>
      <span className="alert-text">{error.message}</span>
      {onDismiss && (
        <button type="button" className="link-button" onClick={onDismiss} aria-label="Dismiss this message">
          Dismiss
        </button>
      )}
    </div>
  );
}
