import { formatProb, visibleToken } from '../format';
import { useLab } from '../store';
import { ErrorMessage } from './ErrorMessage';
import { FactIO } from './FactIO';
import { FactLibrary } from './FactLibrary';
import { PromptList } from './PromptList';
import { TopTokens } from './TopTokens';

/** Prompt and target in, next-token distribution and target probability out (recomputed as you type). */
export function FactPanel() {
  const prompt = useLab((s) => s.prompt);
  const target = useLab((s) => s.target);
  const setPrompt = useLab((s) => s.setPrompt);
  const setTarget = useLab((s) => s.setTarget);
  const prediction = useLab((s) => s.prediction);
  const error = useLab((s) => s.predictError);
  const predicting = useLab((s) => s.predicting);
  const ms = useLab((s) => s.predictMs);
  const model = useLab((s) => s.model);
  const masked = model?.objective === 'masked';

  return (
    <section className="card" aria-labelledby="fact-heading">
      <h2 id="fact-heading">Fact</h2>
      <div className="fact-columns">
        <FactLibrary />
        <div className="fact-editor">
          <div className="fields">
            <div className="field field-prompt">
              <label htmlFor="prompt">Prompt 1</label>
              <textarea
                id="prompt"
                data-testid="prompt-input"
                rows={2}
                value={prompt}
                spellCheck={false}
                placeholder={masked ? 'The capital of France is [MASK].' : 'The capital of France is'}
                aria-describedby="prompt-help"
                onChange={(e) => setPrompt(e.target.value)}
              />
              <small id="prompt-help">
                {masked
                  ? 'A sentence with one [MASK] where the answer goes; this BERT predicts the word at [MASK] (shown below as you type).'
                  : 'The beginning of a sentence; the model predicts what comes next (shown below as you type).'}
              </small>
            </div>
            <div className="field field-target">
              <label htmlFor="target">Target (optional)</label>
              <input
                id="target"
                data-testid="target-input"
                type="text"
                value={target}
                spellCheck={false}
                placeholder={masked ? 'Paris' : ' Paris'}
                aria-describedby="target-help"
                onChange={(e) => setTarget(e.target.value)}
              />
              <small id="target-help">{masked ? 'The expected word at [MASK]: one word piece of the vocabulary.' : 'The expected continuation; a leading space is added when needed.'}</small>
            </div>
          </div>
          <PromptList />
          <FactIO />
        </div>
      </div>
      <ErrorMessage error={error} where="predict" />
      {!model && !error && <p className="muted">The distribution appears here once a model has loaded.</p>}
      {model && prediction && (
        <div className={`results${predicting ? ' results-stale' : ''}`} aria-busy={predicting}>
          {prediction.target && (
            <p className="target-prob" data-testid="target-prob" data-prob={prediction.target.prob}>
              P(<code className="token">{visibleToken(prediction.target.text)}</code> | prompt) = <strong>{formatProb(prediction.target.prob)}</strong>
              {prediction.target.tokens.length > 1 && (
                <span className="muted">
                  {' '}
                  ({prediction.target.tokens.map((t, i) => `${visibleToken(t.text)} ${formatProb(prediction.target!.tokenProbs[i])}`).join(' × ')})
                </span>
              )}
            </p>
          )}
          <TopTokens result={prediction} prompt={prompt} />
          <p className="muted small" data-testid="prompt-tokens">
            {prediction.tokens.length} prompt token{prediction.tokens.length === 1 ? '' : 's'}: {prediction.tokens.map((t) => visibleToken(t.text)).join(' · ')}
            {ms !== undefined && ` — computed in ${Math.round(ms)} ms`}
          </p>
        </div>
      )}
    </section>
  );
}
