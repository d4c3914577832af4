import { useState, type ReactNode } from 'react';
import { formatProb } from '../format';
import { useFacts } from '../facts-store';
import { useIntervention } from '../intervention-store';
import { useNeurons } from '../neuron-store';
import { EXAMPLE_PROMPT, EXAMPLE_TARGET, useLab } from '../store';

const LESSON_FACT = 'capital_of/france';

interface Step {
  title: string;
  /** What to look at, given the lab's state now. */
  body(): ReactNode;
  /** Whether the lab already shows what this step is about. */
  done(): boolean;
  action?: { label: string; run(): void | Promise<void> };
}

function scrollTo(selector: string): void {
  document.querySelector(selector)?.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function percent(v: number): string {
  return Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(1)}%` : '–';
}

/**
 * The guided first lesson, on the real lab and the default model: find the neurons that
 * know Paris is the capital of France, switch them off, see what else changes. Each step
 * can be done by hand or with its button, and ticks itself off from the lab's state.
 */
export function Lesson() {
  const [open, setOpen] = useState(() => new URLSearchParams(window.location.search).get('lesson') === '1');
  const [at, setAt] = useState(0);
  // Re-render on every change the steps read.
  const lab = useLab();
  const kn = useNeurons();
  const iv = useIntervention();
  useFacts((s) => s.factId);

  const isLessonFact = kn.result?.target === EXAMPLE_TARGET && kn.result.prompts[0] === EXAMPLE_PROMPT;
  const own = iv.bars?.filter((b) => b.item.kind === 'own') ?? [];
  const controls = iv.bars?.filter((b) => b.item.kind === 'control') ?? [];
  const change = (rows: typeof own) => {
    const before = rows.reduce((a, b) => a + b.before.prob, 0);
    const after = rows.reduce((a, b) => a + b.after.prob, 0);
    return before > 0 ? ((after - before) / before) * 100 : NaN;
  };
  const layers = [...new Set((kn.refined?.neurons ?? []).map((n) => n.layer))].sort((a, b) => a - b);

  const steps: Step[] = [
    {
      title: 'Ask the model',
      body: () => (
        <>
          The prompt “{EXAMPLE_PROMPT}” goes in; the model answers with a probability for every next token.
          {lab.prediction?.target && lab.prompt === EXAMPLE_PROMPT ? ` Here it gives “Paris” ${formatProb(lab.prediction.target.prob)}.` : ' Load the fact to see it.'} Try other capitals in the library later.
        </>
      ),
      done: () => lab.prompt === EXAMPLE_PROMPT && lab.target === EXAMPLE_TARGET && !!lab.prediction?.target,
      action: {
        label: 'Load the fact',
        run: () => {
          const fact = useFacts.getState().library?.facts.find((f) => f.id === LESSON_FACT);
          if (fact) useFacts.getState().chooseFact(fact);
          else useLab.getState().setFact(EXAMPLE_PROMPT, EXAMPLE_TARGET);
          scrollTo('section[aria-labelledby="fact-heading"]');
        },
      },
    },
    {
      title: 'Find the neurons that know it',
      body: () => (
        <>
          Integrated gradients score every feed-forward neuron for each way of asking the question. Neurons that score high for most of the prompts are the fact’s
          knowledge neurons.{isLessonFact && kn.refined ? ` Found ${kn.refined.neurons.length}, in layer${layers.length === 1 ? '' : 's'} ${layers.join(', ')}.` : ''}
        </>
      ),
      done: () => isLessonFact && !!kn.refined,
      action: { label: kn.running ? 'Searching…' : 'Find them', run: () => (scrollTo('[data-testid="kn-panel"]'), useNeurons.getState().find()) },
    },
    {
      title: 'Look at the map',
      body: () => (
        <>
          Each row is a layer, each column a neuron; purple means the neuron pushes towards “Paris”. Boxed cells are the knowledge neurons. Click one, or focus the map and use the
          arrow keys; the inspector shows which words it writes.
        </>
      ),
      done: () => isLessonFact && !!kn.selected,
      action: {
        label: 'Show me',
        run: () => {
          const top = useNeurons.getState().refined?.neurons[0];
          if (top) useNeurons.getState().select([top.layer, top.index]);
          scrollTo('[data-testid="map-panel"]');
        },
      },
    },
    {
      title: 'Switch them off',
      body: () => (
        <>
          Scale the knowledge neurons’ activations to 0 and run the model again.
          {iv.barsFor?.scale === 0 && iv.scope === 'refined' && own.length ? ` P(Paris) changes by ${percent(change(own))} on average over the prompts.` : ''}
        </>
      ),
      done: () => isLessonFact && iv.scope === 'refined' && iv.barsFor?.scale === 0 && own.length > 0,
      action: {
        label: 'Switch off',
        run: () => {
          useIntervention.getState().setScope('refined');
          useIntervention.getState().setScale(0);
          scrollTo('[data-testid="before-after"]');
        },
      },
    },
    {
      title: 'See what else changes',
      body: () => (
        <>
          Control facts from other relations run through the same switched-off model.
          {controls.length && iv.barsFor?.scale === 0 ? ` Their probabilities change by ${percent(change(controls))}: ` : ' '}
          a fact is localised when its own probability falls and the others barely move. Next: edit the fact to “Lyon” below, then share your result with “Copy link”.
        </>
      ),
      done: () => isLessonFact && controls.length > 0 && iv.barsFor?.scale === 0,
    },
  ];

  if (!open) {
    return (
      <p className="lesson-invite small">
        New here?{' '}
        <button type="button" onClick={() => setOpen(true)} data-testid="lesson-start">
          Take the 5-step lesson
        </button>
      </p>
    );
  }
  const step = steps[at];
  return (
    <section className="card lesson" aria-labelledby="lesson-heading" data-testid="lesson" data-step={at}>
      <div className="inline lesson-head">
        <h2 id="lesson-heading">Lesson: where does the model know that Paris is the capital of France?</h2>
        <button type="button" className="link-button" onClick={() => setOpen(false)} data-testid="lesson-close">
          Close
        </button>
      </div>
      <ol className="lesson-steps">
        {steps.map((s, i) => (
          <li key={s.title} className={i === at ? 'current' : ''} data-done={s.done()}>
            <button type="button" className="link-button" aria-current={i === at ? 'step' : undefined} onClick={() => setAt(i)}>
              {s.done() ? '✓ ' : ''}
              {s.title}
            </button>
          </li>
        ))}
      </ol>
      <div className="lesson-body" aria-live="polite">
        <h3>
          Step {at + 1}: {step.title}
        </h3>
        <p data-testid="lesson-text">{step.body()}</p>
        <div className="inline">
          {step.action && (
            <button type="button" onClick={() => void step.action!.run()} disabled={kn.running || !lab.model} data-testid="lesson-do">
              {step.action.label}
            </button>
          )}
          <button type="button" onClick={() => setAt(Math.max(0, at - 1))} disabled={at === 0} data-testid="lesson-back">
            Back
          </button>
          <button type="submit" onClick={() => setAt(Math.min(steps.length - 1, at + 1))} disabled={at === steps.length - 1 || !step.done()} data-testid="lesson-next">
            Next
          </button>
        </div>
      </div>
    </section>
  );
}
