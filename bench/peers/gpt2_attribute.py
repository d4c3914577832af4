"""PyTorch CPU peer for bench/attribute: knowledge-neuron attribution, the official algorithm.

Integrated gradients as the official knowledge-neurons code computes them
(Hunter-DDM/knowledge-neurons; methods.md §3.3, D1-D3), in plain torch on a GPT-2
read from a Hugging Face-layout folder (the same weights and token ids as the tfjs side):

  clean pass      one forward of the prompt (batch 1, no grad) records a_l, the post-GELU
                  FFN activation at the last position of every layer l;
  for each layer l:
    a batch of m copies of the FULL prompt is run from the embeddings through all layers;
    in layer l, at the last position, the post-GELU activation is replaced by alpha_k * a_l
    (alpha_k = k/m, k = 0..m-1: the official left Riemann sum; the other positions and the
    other layers are computed normally); the softmax probability of the gold token at the
    last position is taken per row, the sum is backpropagated to the replaced [m, f]
    tensor, and the attribution is a_l * (1/m) * sum_k grad_k.

Nothing is cached between layers or rows: every layer's batch recomputes the whole prompt,
as the official code does. The weights do not require grad, so autograd records only layers
>= l and computes only activation gradients (no weight gradients).

Prints one JSON object: runtime and BLAS info, raw timing samples (ms) of the whole
attribution (all requested layers) with the machine load, and the attributions of the last
timed run as raw little-endian float32 [layers, f] in --scores-out (plus per-layer
completeness numbers and the clean probability, for the report).
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from gpt2_forward import Gpt2, read_config, read_params  # noqa: E402


class Gpt2Batched(Gpt2):
    """The bench/forward model with a batch axis and one replacement point."""

    def run(self, ids, batch, layer=None, replace=None, capture=None):
        """Gold-probability inputs: returns last-position logits [batch, V].

        ids: [T] token ids, repeated `batch` times (m copies of the prompt).
        layer/replace: in `layer`, the post-GELU activation at the last position becomes
          `replace` [batch, f] (the official code overwrites the whole vector there).
        capture: a list that receives each layer's post-GELU activation at the last position [f].
        """
        cfg = self.cfg
        T = ids.shape[0]
        d, H, f = cfg["n_embd"], cfg["n_head"], cfg["n_inner"]
        dh = d // H
        eps = cfg["eps"]
        scale = 1.0 / (dh**0.5)
        B = batch
        future = torch.ones(T, T, dtype=torch.bool).triu_(1)
        x = (self.wte[ids] + self.wpe[:T]).unsqueeze(0).expand(B, T, d).reshape(B * T, d)  # [B*T, d]
        for l, (ln1w, ln1b, qkvw, qkvb, aow, aob, ln2w, ln2b, fcw, fcb, pw, pb) in enumerate(self.layers):
            h = F.layer_norm(x, self.shape, ln1w, ln1b, eps)
            qkv = torch.addmm(qkvb, h, qkvw)  # [B*T, 3d]
            q, k, v = (t.reshape(B, T, H, dh).transpose(1, 2) for t in qkv.split(d, dim=1))  # [B, H, T, dh]
            scores = torch.matmul(q, k.transpose(-1, -2)).mul(scale).masked_fill(future, float("-inf"))
            z = torch.matmul(torch.softmax(scores, dim=-1), v)  # [B, H, T, dh]
            x = x + torch.addmm(aob, z.transpose(1, 2).reshape(B * T, d), aow)
            h = F.layer_norm(x, self.shape, ln2w, ln2b, eps)
            act = self.act(torch.addmm(fcb, h, fcw))  # [B*T, f], post-GELU
            if capture is not None:
                capture.append(act.view(B, T, f)[0, -1].clone())
            if l == layer:
                act = torch.cat([act.view(B, T, f)[:, :-1], replace.unsqueeze(1)], dim=1).reshape(B * T, f)
            x = x + torch.addmm(pb, act, pw)
        last = x.view(B, T, d)[:, -1]  # only the last position's logits are needed
        last = F.layer_norm(last, self.shape, self.ln_f[0], self.ln_f[1], eps)
        return torch.matmul(last, self.wte_t)  # [B, V]


def attribute(model, ids, gold, layers, steps):
    """Official KN integrated gradients; returns (scores [len(layers), f], per-layer info, clean prob)."""
    alphas = torch.arange(steps, dtype=torch.float32).div_(steps).unsqueeze(1)  # k/m, k = 0..m-1: [m, 1]
    acts = []
    with torch.no_grad():
        p_clean = torch.softmax(model.run(ids, 1, capture=acts), dim=-1)[0, gold].item()
    out = []
    info = []
    for l in layers:
        a = acts[l]
        scaled = (alphas * a).requires_grad_(True)  # [m, f]
        probs = torch.softmax(model.run(ids, steps, layer=l, replace=scaled), dim=-1)[:, gold]  # [m]
        (grad,) = torch.autograd.grad(probs.sum(), scaled)
        out.append(a * grad.sum(0) / steps)
        info.append({"layer": l, "p_alpha0": probs[0].item()})
    return torch.stack(out), info, p_clean


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="folder with config.json and model.safetensors")
    ap.add_argument("--tokens", required=True, help="comma-separated prompt token ids")
    ap.add_argument("--target", type=int, required=True, help="gold token id (single-token target)")
    ap.add_argument("--layers", default="", help="comma-separated layers (default: all)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scores-out", required=True, help="write the attributions here as raw float32 [layers, f]")
    args = ap.parse_args()

    threads = benchlib.setup_threads(args.threads)
    blas = benchlib.blas_report()
    benchlib.log(f"torch {torch.__version__}, {threads} threads, BLAS: {blas['summary']}")

    started = time.perf_counter()
    cfg = read_config(args.checkpoint)
    model = Gpt2Batched(cfg, read_params(args.checkpoint))
    load_ms = (time.perf_counter() - started) * 1000.0

    ids = torch.tensor([int(t) for t in args.tokens.split(",")], dtype=torch.long)
    if ids.numel() == 0 or int(ids.max()) >= cfg["vocab_size"] or int(ids.min()) < 0:
        raise SystemExit("token ids must be non-empty and inside the vocabulary")
    if ids.numel() > cfg["n_positions"]:
        raise SystemExit("more tokens than n_positions")
    if not 0 <= args.target < cfg["vocab_size"]:
        raise SystemExit("target outside the vocabulary")
    layers = [int(l) for l in args.layers.split(",")] if args.layers else list(range(cfg["n_layer"]))
    if any(not 0 <= l < cfg["n_layer"] for l in layers):
        raise SystemExit("layer out of range")

    last = {}

    def run():
        # What the caller gets: the attributions as a host float32 array, like the tfjs result.
        scores, info, p_clean = attribute(model, ids, args.target, layers, args.steps)
        last["scores"] = scores.detach().numpy()
        last["info"] = info
        last["p_clean"] = p_clean

    timed = benchlib.time_runs(run, args.warmup, args.runs)
    benchlib.log(f"attribution over {len(layers)} layers, m = {args.steps}: " + ", ".join(f"{s / 1000:.2f} s" for s in timed["samples_ms"]))

    scores = last["scores"]
    scores.astype("<f4").tofile(args.scores_out)
    layer_info = []
    for row, entry in zip(scores, last["info"]):
        # Completeness (D3): the sum of a layer's attributions vs P(clean) - P(layer's activation zeroed).
        entry["sum"] = float(row.astype("float64").sum())
        entry["delta"] = last["p_clean"] - entry["p_alpha0"]
        layer_info.append(entry)
    benchlib.emit(
        {
            "peer": "gpt2_attribute",
            "runtime": benchlib.runtime_info(),
            "blas": blas,
            "config": cfg,
            "tokens": ids.tolist(),
            "target": args.target,
            "layers": layers,
            "steps": args.steps,
            "rule": "left",
            "load_ms": load_ms,
            "warmup": args.warmup,
            "runs": args.runs,
            "timing": timed,
            "p_clean": last["p_clean"],
            "layer_info": layer_info,
            "scores": {"path": args.scores_out, "shape": list(scores.shape)},
        }
    )


if __name__ == "__main__":
    main()
