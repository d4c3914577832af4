import { useRef } from 'react';
import { useFacts } from '../facts-store';
import { download, slug } from '../knowledge';
import { ErrorMessage } from './ErrorMessage';

/** Import a fact or a fact set (JSON/CSV); export the current fact or the library. */
export function FactIO() {
  const input = useRef<HTMLInputElement>(null);
  const error = useFacts((s) => s.ioError);
  const message = useFacts((s) => s.ioMessage);
  const library = useFacts((s) => s.library);
  const defaultLibrary = useFacts((s) => s.defaultLibrary);
  const subject = useFacts((s) => s.subject);
  const clearIo = useFacts((s) => s.clearIo);

  const exportCurrent = (format: 'json' | 'csv') => {
    const text = useFacts.getState().exportCurrent(format);
    if (text !== undefined) download(`${slug(subject)}-fact.${format}`, text, format === 'json' ? 'application/json' : 'text/csv');
  };
  const exportLibrary = (format: 'json' | 'csv') => {
    const text = useFacts.getState().exportLibrary(format);
    if (text !== undefined) download(`${slug(library?.name ?? 'facts')}.${format}`, text, format === 'json' ? 'application/json' : 'text/csv');
  };
  const onFile = async (file: File) => {
    try {
      useFacts.getState().importFile(new Uint8Array(await file.arrayBuffer()), file.name);
    } catch (err) {
      useFacts.setState({ ioError: { code: 'facts-unreadable', message: `${file.name} could not be read: ${(err as Error).message}` } });
    }
  };

  return (
    <div className="fact-io" data-testid="fact-io">
      <div className="inline">
        <button type="button" onClick={() => input.current?.click()} data-testid="import-facts">
          Import JSON/CSV…
        </button>
        <span className="muted small">Export fact:</span>
        <button type="button" onClick={() => exportCurrent('json')} data-testid="export-fact-json">
          JSON
        </button>
        <button type="button" onClick={() => exportCurrent('csv')} data-testid="export-fact-csv">
          CSV
        </button>
        <span className="muted small">Library:</span>
        <button type="button" onClick={() => exportLibrary('json')} disabled={!library} data-testid="export-library-json">
          JSON
        </button>
        <button type="button" onClick={() => exportLibrary('csv')} disabled={!library} data-testid="export-library-csv">
          CSV
        </button>
        {library && defaultLibrary && library !== defaultLibrary && (
          <button type="button" className="link-button" onClick={() => useFacts.getState().useDefaultLibrary()} data-testid="default-library">
            Back to the default library
          </button>
        )}
      </div>
      <input
        ref={input}
        className="visually-hidden"
        type="file"
        accept=".json,.csv,application/json,text/csv"
        aria-label="Fact file"
        data-testid="facts-file-input"
        tabIndex={-1}
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) void onFile(file);
          e.target.value = '';
        }}
      />
      {message && (
        <p className="muted small" data-testid="facts-io-message" role="status">
          {message}
        </p>
      )}
      <ErrorMessage error={error} where="facts-io" onDismiss={clearIo} />
    </div>
  );
}
