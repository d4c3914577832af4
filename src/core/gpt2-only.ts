/**
 * Why the weight-level methods run on GPT-2 only for now: said (not hidden) wherever a
 * BERT is loaded, by the engine, the CLI and the page. No tfjs here, so the page can import it.
 */
export const GPT2_ONLY = {
  degeneracy:
    "The degeneracy analysis runs on GPT-2 checkpoints only: its neuron distances and functional filter are built on the causal forward pass (the DKN paper's GPT-2 setting). Load a GPT-2 model (e.g. the default model) for it.",
  subnetwork:
    "Knowledge-critical subnetworks run on GPT-2 checkpoints only: the masks cover GPT-2's c_attn, c_proj and c_fc matrices and the language-modelling control is next-token perplexity, as in the paper's GPT-2 setting. Load a GPT-2 model (e.g. the default model) for them.",
} as const;

export type Gpt2OnlyMethod = keyof typeof GPT2_ONLY;
