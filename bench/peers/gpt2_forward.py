"""PyTorch CPU peer for bench/forward: a GPT-2 forward written out in plain torch.

Reads a Hugging Face-layout folder (config.json + model.safetensors), runs the same
token ids as the tfjs side under torch.no_grad in float32, times two variants:

  last  logits at the last position only ([1, V]), what a next-token prediction needs
  full  logits at every position ([T, V])

and prints one JSON object: runtime and BLAS info, raw timing samples (ms) with the
machine load during them, the
last-position logits, and (with --full-logits-out) writes the full logits as raw
little-endian float32 [T, V] for the caller to compare.

No transformers / safetensors packages: weights are read with json + torch.frombuffer.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def read_config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        raw = json.load(f)
    n_embd = raw["n_embd"]
    activation = raw.get("activation_function", "gelu_new")
    if activation not in ("gelu_new", "gelu"):
        raise ValueError(f"unsupported activation {activation}")
    return {
        "vocab_size": raw["vocab_size"],
        "n_positions": raw.get("n_positions", raw.get("n_ctx")),
        "n_embd": n_embd,
        "n_layer": raw["n_layer"],
        "n_head": raw["n_head"],
        "n_inner": raw.get("n_inner") or 4 * n_embd,
        "eps": raw.get("layer_norm_epsilon", 1e-5),
        "activation": activation,
    }


def read_params(folder):
    params = {}
    for name, t in benchlib.load_safetensors(os.path.join(folder, "model.safetensors")).items():
        if name.startswith("transformer."):
            name = name[len("transformer.") :]
        if name.endswith(IGNORED_SUFFIXES) or name == "lm_head.weight":
            continue
        params[name] = t
    return params


class Gpt2:
    """GPT-2 (HF naming; Conv1D weights are [in, out], so a linear layer is x @ W + b)."""

    def __init__(self, cfg, params):
        self.cfg = cfg
        self.p = params
        d = cfg["n_embd"]
        self.layers = []
        for l in range(cfg["n_layer"]):
            g = lambda n: params[f"h.{l}.{n}"]  # noqa: E731
            self.layers.append(
                (
                    g("ln_1.weight"), g("ln_1.bias"),
                    g("attn.c_attn.weight"), g("attn.c_attn.bias"),
                    g("attn.c_proj.weight"), g("attn.c_proj.bias"),
                    g("ln_2.weight"), g("ln_2.bias"),
                    g("mlp.c_fc.weight"), g("mlp.c_fc.bias"),
                    g("mlp.c_proj.weight"), g("mlp.c_proj.bias"),
                )
            )
        self.wte = params["wte.weight"]
        # The tied unembedding multiplies by wte^T every call; keep a contiguous transposed
        # copy, as the tfjs side does (matmul.ts rememberTranspose). Measured here it saves
        # ~5 ms over sgemm on the transposed view, so the peer is not handicapped.
        self.wte_t = self.wte.t().contiguous()
        self.wpe = params["wpe.weight"]
        self.ln_f = (params["ln_f.weight"], params["ln_f.bias"])
        self.shape = (d,)
        if cfg["activation"] == "gelu_new":
            self.act = lambda x: F.gelu(x, approximate="tanh")  # exactly HF's gelu_new formula
        else:
            self.act = F.gelu

    def forward(self, ids, last_only):
        cfg = self.cfg
        T = ids.shape[0]
        d, H = cfg["n_embd"], cfg["n_head"]
        dh = d // H
        eps = cfg["eps"]
        scale = 1.0 / math.sqrt(dh)
        future = torch.ones(T, T, dtype=torch.bool).triu_(1)
        x = self.wte[ids] + self.wpe[:T]  # [T, d]
        for ln1w, ln1b, qkvw, qkvb, aow, aob, ln2w, ln2b, fcw, fcb, pw, pb in self.layers:
            h = F.layer_norm(x, self.shape, ln1w, ln1b, eps)
            qkv = torch.addmm(qkvb, h, qkvw)  # [T, 3d]
            q, k, v = (t.reshape(T, H, dh).transpose(0, 1) for t in qkv.split(d, dim=1))  # [H, T, dh]
            scores = torch.matmul(q, k.transpose(1, 2)).mul_(scale).masked_fill_(future, float("-inf"))
            z = torch.matmul(torch.softmax(scores, dim=-1), v)  # [H, T, dh]
            x = x + torch.addmm(aob, z.transpose(0, 1).reshape(T, d), aow)
            h = F.layer_norm(x, self.shape, ln2w, ln2b, eps)
            x = x + torch.addmm(pb, self.act(torch.addmm(fcb, h, fcw)), pw)
        if last_only:
            x = x[-1:]
        x = F.layer_norm(x, self.shape, self.ln_f[0], self.ln_f[1], eps)
        return torch.matmul(x, self.wte_t)  # tied unembedding: [T or 1, V]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="folder with config.json and model.safetensors")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--full-logits-out", help="write the full-sequence logits here as raw float32 [T, V]")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    threads = benchlib.setup_threads(args.threads)
    blas = benchlib.blas_report()
    benchlib.log(f"torch {torch.__version__}, {threads} threads, BLAS: {blas['summary']}")

    started = time.perf_counter()
    cfg = read_config(args.checkpoint)
    model = Gpt2(cfg, read_params(args.checkpoint))
    load_ms = (time.perf_counter() - started) * 1000.0

    ids = torch.tensor([int(t) for t in args.tokens.split(",")], dtype=torch.long)
    if ids.numel() == 0 or int(ids.max()) >= cfg["vocab_size"] or int(ids.min()) < 0:
        raise SystemExit("token ids must be non-empty and inside the vocabulary")
    if ids.numel() > cfg["n_positions"]:
        raise SystemExit("more tokens than n_positions")

    with torch.no_grad():
        # What the caller reads back: a float32 host array, like dataSync() on the tfjs side.
        last = lambda: model.forward(ids, True).numpy()  # noqa: E731
        full = lambda: model.forward(ids, False).numpy()  # noqa: E731
        timed_last = benchlib.time_runs(last, args.warmup, args.runs)
        timed_full = benchlib.time_runs(full, args.warmup, args.runs)
        logits_last = last()[0]
        full_logits = full()

    result = {
        "peer": "gpt2_forward",
        "runtime": benchlib.runtime_info(),
        "blas": blas,
        "config": cfg,
        "tokens": ids.tolist(),
        "load_ms": load_ms,
        "warmup": args.warmup,
        "runs": args.runs,
        "timings": {"last": timed_last, "full": timed_full},
        "logits_last": [float(v) for v in logits_last],
    }
    if args.full_logits_out:
        full_logits.astype("<f4").tofile(args.full_logits_out)
        result["full_logits"] = {"path": args.full_logits_out, "shape": list(full_logits.shape)}
    benchlib.emit(result)


if __name__ == "__main__":
    main()
