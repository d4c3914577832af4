import { useMemo, useRef } from 'react';
import { useFacts } from '../facts-store';
import { useLab } from '../store';
import { selectSubnetFacts, useSubnet } from '../subnet-store';
import { ErrorMessage } from './ErrorMessage';
import { Gpt2OnlyNotice } from './Gpt2OnlyNotice';
import { DeltaPplTable, SparsityMap, TrainingCurves } from './SubnetCharts';

/**
 * Knowledge-critical subnetworks (Bayazit et al.): train a sparse weight mask whose removal
 * deletes the chosen facts while the control facts stay, then remove it from the model and
 * watch the rest of the lab predict without it.
 */
export function SubnetworkPanel() {
  const library = useFacts((s) => s.library);
  const arch = useLab((s) => s.model?.arch);
  const s = useSubnet();
  const file = useRef<HTMLInputElement>(null);
  const facts = useMemo(() => selectSubnetFacts(library, s.targetRelation, s.targetQuery), [library, s.targetRelation, s.targetQuery]);
  const busy = s.phase !== 'idle';
  const last = s.curve[s.curve.length - 1];
  const lastEval = s.evals[s.evals.length - 1];
  const sparsity = s.result?.sparsity ?? (s.status.mask?.sparsity && !busy ? s.status.mask.sparsity : undefined);

  if (arch === 'bert') {
    return (
      <section className="card" aria-labelledby="subnet-heading" data-testid="subnetwork">
        <h2 id="subnet-heading">Subnetwork</h2>
        <Gpt2OnlyNotice method="subnetwork" />
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="subnet-heading" data-testid="subnetwork">
      <h2 id="subnet-heading">Subnetwork</h2>
      <p className="muted small">
        Train a weight mask over the upper layers that removes the target facts and keeps the control facts (methods.md §5; browser profile, no control text corpus — both recorded as deviations in the result).
      </p>
      <div className="fields subnet-fields">
        <div className="field">
          <label htmlFor="subnet-relation">Facts to remove: relation</label>
          <select id="subnet-relation" value={s.targetRelation} disabled={busy} onChange={(e) => s.setTarget({ targetRelation: e.target.value })}>
            {(library?.relations ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
          <label htmlFor="subnet-query">whose subject or object contains</label>
          <input id="subnet-query" data-testid="subnet-query" value={s.targetQuery} disabled={busy} placeholder="(all facts of the relation)" onChange={(e) => s.setTarget({ targetQuery: e.target.value })} />
          <small data-testid="subnet-selection">
            {facts.target.length} target facts{facts.target.length ? ` (${facts.target.slice(0, 3).map((f) => `${f.subject} → ${f.object}`).join(', ')}${facts.target.length > 3 ? ', …' : ''})` : ''}; {facts.control.length} control facts from the rest of the library.
          </small>
        </div>
        <div className="field">
          <label htmlFor="subnet-steps">Steps</label>
          <input id="subnet-steps" data-testid="subnet-steps" type="number" min={1} max={40000} value={s.steps} disabled={busy} onChange={(e) => s.setTarget({ steps: Math.max(1, Math.round(Number(e.target.value) || 1)) })} />
          <label htmlFor="subnet-seed">Seed</label>
          <input id="subnet-seed" type="number" value={s.seed} disabled={busy} onChange={(e) => s.setTarget({ seed: Math.round(Number(e.target.value) || 0) })} />
          <label htmlFor="subnet-lambda-init" title="Weight of the sparsity term: this value for the first half of the steps, then linearly to the second (the code: 2 → 3; the README's study reaches 98% with 10 → 15 in 700 steps)">
            λ_reg
          </label>
          <span>
            <input id="subnet-lambda-init" data-testid="subnet-lambda-init" aria-label="λ_reg for the first half" type="number" min={0} max={1000} step={0.5} value={s.lambdaReg.init} disabled={busy} onChange={(e) => s.setTarget({ lambdaReg: { ...s.lambdaReg, init: lambdaValue(e.target.value) } })} />
            {' → '}
            <input id="subnet-lambda-final" data-testid="subnet-lambda-final" aria-label="λ_reg at the last step" type="number" min={0} max={1000} step={0.5} value={s.lambdaReg.final} disabled={busy} onChange={(e) => s.setTarget({ lambdaReg: { ...s.lambdaReg, final: lambdaValue(e.target.value) } })} />
          </span>
        </div>
      </div>

      <div className="button-row">
        <button type="button" data-testid="subnet-train" disabled={busy} onClick={() => void s.train()}>
          Train mask
        </button>
        {(s.phase === 'training' || s.phase === 'pausing') && (
          <button type="button" data-testid="subnet-pause" disabled={s.phase === 'pausing'} onClick={() => void s.control('pause')}>
            {s.phase === 'pausing' ? 'Pausing…' : 'Pause'}
          </button>
        )}
        {s.phase === 'paused' && (
          <button type="button" data-testid="subnet-resume" onClick={() => void s.control('resume')}>
            Resume
          </button>
        )}
        {(s.phase === 'training' || s.phase === 'pausing' || s.phase === 'paused') && (
          <button type="button" data-testid="subnet-stop" onClick={() => void s.control('stop')}>
            Stop (keep the mask so far)
          </button>
        )}
        <button type="button" data-testid="subnet-evaluate" disabled={busy || !s.status.mask} onClick={() => void s.evaluate()}>
          {s.phase === 'evaluating' ? 'Evaluating…' : 'Evaluate ΔPPL'}
        </button>
        <label className="toggle">
          <input type="checkbox" data-testid="subnet-remove" disabled={busy || !s.status.mask} checked={s.status.removed} onChange={(e) => void s.setRemoved(e.target.checked)} />
          Remove the subnetwork from the model
        </label>
      </div>
      <div className="button-row">
        <button type="button" className="small-button" disabled={busy || !s.status.mask} onClick={() => void s.exportMask('bits')}>
          Export mask (bits)
        </button>
        <button type="button" className="small-button" disabled={busy || s.status.mask?.encoding !== 'logits'} onClick={() => void s.exportMask('logits')}>
          Export mask (logits)
        </button>
        <button type="button" className="small-button" disabled={busy} onClick={() => file.current?.click()}>
          Import mask…
        </button>
        <input
          ref={file}
          type="file"
          accept=".safetensors"
          hidden
          data-testid="subnet-import"
          onChange={(e) => {
            const picked = e.target.files?.[0];
            e.target.value = '';
            if (picked) void s.importMask(picked);
          }}
        />
      </div>

      <ErrorMessage error={s.error} where="subnetwork" />
      {s.message && <p className="small" role="status">{s.message}</p>}
      <p className="small" aria-live="polite" data-testid="subnet-status">
        {busy && last
          ? `Step ${last.step}${s.phase === 'paused' ? ' (paused)' : s.phase === 'pausing' ? ' (pausing…)' : ''}: sparsity ${(100 * last.sparsity).toFixed(2)}%, total loss ${last.losses.total.toFixed(4)}.`
          : s.status.mask
            ? `Mask ready: sparsity ${(100 * s.status.mask.sparsity.sparsity).toFixed(2)}%; the subnetwork is ${s.status.removed ? 'removed from the model' : 'in the model'}.`
            : 'No mask yet.'}
        {lastEval ? ` Target top-1 ${(100 * lastEval.target.top1).toFixed(0)}%, control top-1 ${(100 * lastEval.control.top1).toFixed(0)}% (step ${lastEval.step}).` : ''}
      </p>
      {s.curve.length > 0 && <TrainingCurves curve={s.curve} />}
      {sparsity && <SparsityMap report={sparsity} />}
      {s.evaluation && <DeltaPplTable evaluation={s.evaluation} />}
    </section>
  );
}

/** A λ_reg field's value: a number from 0 to 1000 (an empty or bad field counts as 0 until fixed). */
function lambdaValue(text: string): number {
  const value = Number(text);
  return Number.isFinite(value) ? Math.min(1000, Math.max(0, value)) : 0;
}
