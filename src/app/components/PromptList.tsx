import { useFacts } from '../facts-store';

/** The fact's other paraphrase prompts (editable), and its subject and relation (for export). */
export function PromptList() {
  const paraphrases = useFacts((s) => s.paraphrases);
  const setParaphrase = useFacts((s) => s.setParaphrase);
  const addParaphrase = useFacts((s) => s.addParaphrase);
  const removeParaphrase = useFacts((s) => s.removeParaphrase);
  const promoteParaphrase = useFacts((s) => s.promoteParaphrase);
  const subject = useFacts((s) => s.subject);
  const relation = useFacts((s) => s.relation);
  const setSubject = useFacts((s) => s.setSubject);
  const setRelation = useFacts((s) => s.setRelation);

  return (
    <div className="paraphrases" data-testid="paraphrases">
      <div className="paraphrases-head">
        <span className="label-like" id="paraphrases-label">
          More prompts for the same fact ({paraphrases.length})
        </span>
        <button type="button" onClick={() => addParaphrase('')} data-testid="add-prompt">
          Add prompt
        </button>
      </div>
      {paraphrases.length === 0 && <p className="muted small">Paraphrases make the neuron search robust: add a few ways of saying the same fact, or pick a fact from the library.</p>}
      <ol className="prompt-rows" aria-labelledby="paraphrases-label" start={2}>
        {paraphrases.map((p, i) => (
          <li key={i} className="prompt-row">
            <input
              type="text"
              data-testid="paraphrase-input"
              aria-label={`Prompt ${i + 2}`}
              value={p}
              spellCheck={false}
              placeholder="Another way to say it, e.g. The capital city of France is"
              onChange={(e) => setParaphrase(i, e.target.value)}
            />
            <button type="button" className="icon-button" onClick={() => promoteParaphrase(i)} aria-label={`Predict with prompt ${i + 2}`} title="Show the prediction for this prompt" disabled={p.trim() === ''}>
              ↑
            </button>
            <button type="button" className="icon-button" onClick={() => removeParaphrase(i)} aria-label={`Remove prompt ${i + 2}`} title="Remove" data-testid="remove-prompt">
              ×
            </button>
          </li>
        ))}
      </ol>
      <div className="fact-meta">
        <label>
          Subject
          <input type="text" data-testid="subject-input" value={subject} spellCheck={false} onChange={(e) => setSubject(e.target.value)} />
        </label>
        <label>
          Relation
          <input type="text" data-testid="relation-input" value={relation} spellCheck={false} placeholder="custom" onChange={(e) => setRelation(e.target.value)} />
        </label>
      </div>
    </div>
  );
}
