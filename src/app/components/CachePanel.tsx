import { useCallback, useState } from 'react';
import type { CachedModel } from '../../worker/protocol';
import { formatBytes } from '../format';
import { engine, toUiError, type UiError } from '../store';
import { ErrorMessage } from './ErrorMessage';

/** Models downloaded into the browser cache (Hub repos and URLs), with a way to remove them. */
export function CachePanel() {
  const [models, setModels] = useState<CachedModel[] | undefined>();
  const [error, setError] = useState<UiError | undefined>();
  const [busy, setBusy] = useState(false);

  const refresh = useCallback(async () => {
    setBusy(true);
    try {
      setModels(await engine().call('listCache', {}));
      setError(undefined);
    } catch (err) {
      setError(toUiError(err));
    } finally {
      setBusy(false);
    }
  }, []);

  const clear = async (id?: string) => {
    setBusy(true);
    try {
      await engine().call('clearCache', id === undefined ? {} : { id });
    } catch (err) {
      setError(toUiError(err));
    }
    await refresh();
  };

  return (
    <details className="cache" onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && void refresh()}>
      <summary>Downloaded models in this browser</summary>
      {models === undefined ? (
        <p className="muted small">{busy ? 'Reading the cache…' : ''}</p>
      ) : models.length === 0 ? (
        <p className="muted small" data-testid="cache-empty">
          No downloaded models are cached. (The default model and local files are never copied into the cache.)
        </p>
      ) : (
        <>
          <ul className="cache-list" data-testid="cache-list">
            {models.map((m) => (
              <li key={m.id}>
                <code>{m.id}</code> <span className="muted">{formatBytes(m.totalBytes)}, {m.files.length} file{m.files.length === 1 ? '' : 's'}</span>{' '}
                <button type="button" className="link-button" disabled={busy} onClick={() => void clear(m.id)} aria-label={`Remove ${m.id} from the cache`}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <button type="button" disabled={busy} onClick={() => void clear()}>
            Clear all
          </button>
        </>
      )}
      <ErrorMessage error={error} where="cache" />
    </details>
  );
}
