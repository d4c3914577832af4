import { useDeferredValue, useMemo } from 'react';
import { useFacts } from '../facts-store';
import { LIBRARY_LIST_CAP, searchFacts } from '../knowledge';
import { ErrorMessage } from './ErrorMessage';

/** The searchable fact library: filter as you type, choose a fact to fill its prompts and target. */
export function FactLibrary() {
  const library = useFacts((s) => s.library);
  const state = useFacts((s) => s.libraryState);
  const error = useFacts((s) => s.libraryError);
  const query = useFacts((s) => s.query);
  const relationFilter = useFacts((s) => s.relationFilter);
  const factId = useFacts((s) => s.factId);
  const setQuery = useFacts((s) => s.setQuery);
  const setRelationFilter = useFacts((s) => s.setRelationFilter);
  const chooseFact = useFacts((s) => s.chooseFact);
  const loadLibrary = useFacts((s) => s.loadLibrary);
  const deferredQuery = useDeferredValue(query);
  const { matches, total } = useMemo(() => searchFacts(library, deferredQuery, relationFilter), [library, deferredQuery, relationFilter]);

  return (
    <div className="library" data-testid="fact-library" data-state={state}>
      <label htmlFor="fact-search">Fact library{library ? ` — ${library.name}` : ''}</label>
      <div className="library-filters">
        <input
          id="fact-search"
          data-testid="fact-search"
          type="search"
          value={query}
          placeholder="Search: France, Paris, capital…"
          autoComplete="off"
          spellCheck={false}
          aria-controls="fact-list"
          onChange={(e) => setQuery(e.target.value)}
        />
        <select aria-label="Relation" data-testid="relation-filter" value={relationFilter} onChange={(e) => setRelationFilter(e.target.value)} disabled={!library}>
          <option value="">all relations</option>
          {library?.relations.map((r) => (
            <option key={r.id} value={r.id}>
              {r.name}
            </option>
          ))}
        </select>
      </div>
      {state === 'loading' && <p className="muted small">Loading the fact library…</p>}
      <ErrorMessage error={error} where="library" onDismiss={undefined} />
      {state === 'error' && (
        <button type="button" className="link-button" onClick={() => void loadLibrary()}>
          Try again
        </button>
      )}
      {library && (
        <>
          <p className="muted small library-count" data-testid="library-count" aria-live="polite">
            {total === 0 ? 'No fact matches.' : total > matches.length ? `${total.toLocaleString('en')} facts match; the first ${LIBRARY_LIST_CAP} are shown.` : `${total.toLocaleString('en')} fact${total === 1 ? '' : 's'}.`}
          </p>
          <ul className="fact-list" id="fact-list" aria-label="Facts">
            {matches.map(({ fact, relation }) => (
              <li key={fact.id}>
                <button
                  type="button"
                  className={`fact-option${fact.id === factId ? ' fact-option-current' : ''}`}
                  data-testid="fact-option"
                  data-fact-id={fact.id}
                  aria-pressed={fact.id === factId}
                  onClick={() => chooseFact(fact)}
                >
                  <span className="fact-subject">{fact.subject}</span>
                  <span className="fact-relation">{relation?.name ?? fact.relation}</span>
                  <span className="fact-object">{fact.object}</span>
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
