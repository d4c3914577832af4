import { GPT2_ONLY, type Gpt2OnlyMethod } from '../../core/gpt2-only';

/** Shown instead of a method's controls while a BERT is loaded: what the method needs and why. */
export function Gpt2OnlyNotice({ method }: { method: Gpt2OnlyMethod }) {
  return (
    <p className="note" role="note" data-testid={`gpt2-only-${method}`}>
      {GPT2_ONLY[method]}
    </p>
  );
}
