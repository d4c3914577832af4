import { useState, type FormEvent } from 'react';
import { useIntervention } from '../intervention-store';
import { RELATION_FILTER_FACTS } from '../knowledge';
import { useNeurons } from '../neuron-store';
import { ErrorMessage } from './ErrorMessage';

/** Weight edits through the knowledge neurons' value slots: update the fact, erase the neurons, revert. */
export function EditsPanel() {
  const result = useNeurons((s) => s.result);
  const refinedCount = useNeurons((s) => s.refined?.neurons.length ?? 0);
  const selected = useNeurons((s) => s.selected);
  const scope = useIntervention((s) => s.scope);
  const edits = useIntervention((s) => s.edits);
  const busy = useIntervention((s) => s.editBusy);
  const editError = useIntervention((s) => s.editError);
  const revertError = useIntervention((s) => s.revertError);
  const { updateFact, erase, revert } = useIntervention.getState();
  const filterNote = useIntervention((s) => s.filterNote);
  const [newObject, setNewObject] = useState(' Lyon');
  const [relationFilter, setRelationFilter] = useState(true);
  const canFilter = !!result?.factId && scope === 'refined';
  const count = scope === 'selected' ? (selected ? 1 : 0) : refinedCount;
  const what = scope === 'selected' ? (selected ? `the selected neuron L${selected[0]} #${selected[1]}` : 'no neuron (none selected)') : `the ${refinedCount} knowledge neuron${refinedCount === 1 ? '' : 's'}`;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void updateFact(newObject, canFilter && relationFilter);
  };

  return (
    <section className="card" aria-labelledby="edits-heading" data-testid="edits">
      <h2 id="edits-heading">Edit the fact</h2>
      {!result ? (
        <p className="muted">Find the fact’s knowledge neurons first; edits change their value slots (Dai et al. 2022, §5).</p>
      ) : (
        <>
          <p className="muted small">
            Acts on {what} (choose in the inspector). Edits change the model’s weights for every prediction on this page until reverted; the originals are kept, so reverting is exact.
          </p>
          <form className="edit-form" onSubmit={onSubmit}>
            <label htmlFor="new-object">
              Update “{result.prompts[0]}{result.target}” to …
            </label>
            <div className="inline">
              <input id="new-object" type="text" value={newObject} spellCheck={false} data-testid="new-object-input" onChange={(e) => setNewObject(e.target.value)} placeholder=" Lyon" />
              <button type="submit" disabled={busy || count === 0} data-testid="apply-update">
                Update this fact
              </button>
              <button type="button" disabled={busy || count === 0} onClick={() => void erase()} data-testid="erase-neurons">
                Erase these neurons
              </button>
            </div>
            <label className="toggle small">
              <input type="checkbox" data-testid="update-relation-filter" checked={canFilter && relationFilter} disabled={!canFilter || busy} onChange={(e) => setRelationFilter(e.target.checked)} />
              Only neurons in ≤ 10% of the relation’s facts (the paper’s filter; finds the neurons of {RELATION_FILTER_FACTS} facts of the relation first){canFilter ? '' : ' — needs a library fact and the refined neurons'}
            </label>
            {filterNote && (
              <p className="small" role="status" data-testid="filter-note">
                {filterNote}
              </p>
            )}
            <small className="muted">Update: v ← v − (‖v‖/‖e(old)‖)·e(old) + 8·(‖v‖/‖e(new)‖)·e(new) for each neuron’s value vector v. Erase: v ← 0.</small>
          </form>
          <ErrorMessage error={editError} where="edit" onDismiss={() => useIntervention.setState({ editError: undefined })} />
        </>
      )}
      <div className="edit-list">
        <div className="inline">
          <h3>Active edits ({edits.length})</h3>
          <button type="button" onClick={() => void revert()} disabled={busy || edits.length === 0} data-testid="revert-all">
            Revert all
          </button>
        </div>
        {edits.length === 0 ? (
          <p className="muted small" data-testid="no-edits">
            None: the model has its original weights.
          </p>
        ) : (
          <ul>
            {edits.map((e) => (
              <li key={e.id} data-testid="edit-row" data-kind={e.kind}>
                <span>
                  <strong>{e.kind === 'update-fact' ? 'Update' : e.kind === 'erase-relation' ? 'Erase' : 'Edit'}</strong> {e.description}{' '}
                  <span className="muted small">
                    ({e.slots.length} value slot{e.slots.length === 1 ? '' : 's'})
                  </span>
                </span>
                <button type="button" onClick={() => void revert(e.id)} disabled={busy} data-testid="revert-edit">
                  Revert
                </button>
              </li>
            ))}
          </ul>
        )}
        <ErrorMessage error={revertError} where="revert" onDismiss={() => useIntervention.setState({ revertError: undefined })} />
      </div>
    </section>
  );
}
