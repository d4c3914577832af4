"""PyTorch CPU peer for bench/subnet-step: one knowledge-critical-subnetwork training step.

The step as the released know-subnet code runs it (methods.md §5.2-5.4): mask logits s on
c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj of the masked layers; logistic noise
g = -log(log(u1+eps)/log(u0+eps)+eps); remaining-model mask 1 - hard(sigma(s+g)) with a
straight-through gradient; 1.5 KL(U||q) on TargetKG + KL(p||q) on ControlKG + KL(p||q) on
ControlLM (F.kl_div, batchmean) + lambda_reg mean sigma(s); one backward; torch Adam (lr, eps 1e-8).

--batch JSON gives the token batches and KL rows. The agreement step uses the noise in --noise
(raw float32, one sample shared by the three masked passes) and writes the logits after the
step to --logits-out; the timed steps draw fresh noise for every masked pass, as the code does. Also timed: drawing
the noise of one GPT-2-small layer (7,077,888 logits) with the code's formula.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from gpt2_forward import read_config, read_params  # noqa: E402

MATRICES = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
EPS = 1e-10


class MaskedGpt2:
    def __init__(self, cfg, params, layers, init_p):
        self.cfg, self.p, self.layers = cfg, params, layers
        self.names = [f"h.{l}.{m}.weight" for l in layers for m in MATRICES]
        init = math.log(init_p / (1 - init_p))
        self.logits = {n: torch.full(params[n].shape, init, requires_grad=True) for n in self.names}

    def masks(self, noise):
        out = {}
        for n in self.names:
            soft = 1 - torch.sigmoid(self.logits[n] + noise[n])  # remaining view
            hard = (soft > 0.5).float()
            out[n] = (hard - soft).detach() + soft
        return out

    def hidden(self, ids, masks=None):
        """Final hidden states after ln_f, [B, T, d]; right padding needs no attention mask."""
        cfg, p = self.cfg, self.p
        B, T = ids.shape
        d, H = cfg["n_embd"], cfg["n_head"]
        dh, eps = d // H, cfg["eps"]
        future = torch.ones(T, T, dtype=torch.bool).triu_(1)
        w = lambda n: p[n] * masks[n] if masks is not None and n in masks else p[n]  # noqa: E731
        x = p["wte.weight"][ids] + p["wpe.weight"][:T]
        for l in range(cfg["n_layer"]):
            g = lambda n: f"h.{l}.{n}"  # noqa: E731
            h = F.layer_norm(x, (d,), p[g("ln_1.weight")], p[g("ln_1.bias")], eps)
            qkv = h @ w(g("attn.c_attn.weight")) + p[g("attn.c_attn.bias")]
            q, k, v = (t.reshape(B, T, H, dh).transpose(1, 2) for t in qkv.split(d, dim=2))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
            z = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v
            x = x + z.transpose(1, 2).reshape(B, T, d) @ w(g("attn.c_proj.weight")) + p[g("attn.c_proj.bias")]
            h = F.layer_norm(x, (d,), p[g("ln_2.weight")], p[g("ln_2.bias")], eps)
            a = F.gelu(h @ w(g("mlp.c_fc.weight")) + p[g("mlp.c_fc.bias")], approximate="tanh")
            x = x + a @ w(g("mlp.c_proj.weight")) + p[g("mlp.c_proj.bias")]
        return F.layer_norm(x, (d,), p["ln_f.weight"], p["ln_f.bias"], eps)

    def rows_logits(self, batch, masks=None):
        h = self.hidden(batch["ids"], masks)
        rows = h[batch["b"], batch["t"]] if batch["b"] is not None else h.reshape(-1, h.shape[-1])
        return rows @ self.p["wte.weight"].t()


def code_noise(names, shapes):
    out = {}
    for n in names:
        u0, u1 = torch.rand(shapes[n]), torch.rand(shapes[n])
        out[n] = -torch.log(torch.log(u1 + EPS) / torch.log(u0 + EPS) + EPS)
    return out


def step(model, opt, batches, lambdas, lambda_reg, noise_for_pass):
    V = model.p["wte.weight"].shape[0]
    opt.zero_grad()
    losses = {}
    total = 0.0
    for i, (term, reference) in enumerate((("suppress", "uniform"), ("controlKg", "full"), ("controlLm", "full"))):
        batch = batches[term]
        z = model.rows_logits(batch, model.masks(noise_for_pass(i)))
        if reference == "uniform":
            target = torch.full_like(z, 1.0 / V)
        else:
            with torch.no_grad():
                target = torch.softmax(model.rows_logits(batch), dim=-1)
        loss = F.kl_div(F.log_softmax(z, dim=-1), target, reduction="batchmean")
        losses[term] = float(loss)
        total = total + lambdas[term] * loss
    sig = [torch.sigmoid(model.logits[n]) for n in model.names]
    density = sum(s.sum() for s in sig) / sum(s.numel() for s in sig)
    losses["density"] = float(density)
    (total + lambda_reg * density).backward()
    opt.step()
    return losses


def load_batch(raw):
    ids = torch.tensor(raw["tokens"], dtype=torch.long)
    if raw.get("rows") is None:
        return {"ids": ids, "b": None, "t": None}
    rows = torch.tensor(raw["rows"], dtype=torch.long)
    return {"ids": ids, "b": rows[:, 0], "t": rows[:, 1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--batch", required=True, help="JSON: layers, init_p, lr, lambdas, lambda_reg, target/controlKg/controlLm batches")
    ap.add_argument("--noise", required=True, help="raw float32 noise of the agreement step, matrices in order")
    ap.add_argument("--logits-out", required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    threads = benchlib.setup_threads(args.threads)
    blas = benchlib.blas_report()
    benchlib.log(f"torch {torch.__version__}, {threads} threads, BLAS: {blas['summary']}")
    torch.manual_seed(0)
    with open(args.batch) as f:
        spec = json.load(f)
    cfg = read_config(args.checkpoint)
    params = read_params(args.checkpoint)
    batches = {k: load_batch(spec[k]) for k in ("suppress", "controlKg", "controlLm")}

    def fresh_model():
        model = MaskedGpt2(cfg, params, spec["layers"], spec["init_p"])
        opt = torch.optim.Adam([model.logits[n] for n in model.names], lr=spec["lr"], eps=1e-8)
        return model, opt

    # Agreement: the given noise, shared by the three masked passes.
    model, opt = fresh_model()
    flat = torch.from_numpy(np.fromfile(args.noise, dtype="<f4"))
    given, offset = {}, 0
    for n in model.names:
        size = params[n].numel()
        given[n] = flat[offset : offset + size].reshape(params[n].shape)
        offset += size
    if offset != flat.numel():
        raise SystemExit(f"noise file has {flat.numel()} values, the masks need {offset}")
    losses = step(model, opt, batches, spec["lambdas"], spec["lambda_reg"], lambda i: given)
    np.concatenate([model.logits[n].detach().numpy().ravel() for n in model.names]).astype("<f4").tofile(args.logits_out)

    # Timing: fresh noise for every masked pass, as the code's masked modules draw it.
    model, opt = fresh_model()
    shapes = {n: params[n].shape for n in model.names}
    timed = benchlib.time_runs(lambda: step(model, opt, batches, spec["lambdas"], spec["lambda_reg"], lambda i: code_noise(model.names, shapes)), args.warmup, args.runs)
    # Noise for one GPT-2-small layer's four masked matrices (7,077,888 logits), the code's formula.
    gpt2_layer = {"c_attn": (768, 2304), "c_proj": (768, 768), "c_fc": (768, 3072), "mlp_proj": (3072, 768)}
    noise_timed = benchlib.time_runs(lambda: code_noise(list(gpt2_layer), gpt2_layer), args.warmup, args.runs)
    benchlib.emit({"peer": "gpt2_subnet_step", "runtime": benchlib.runtime_info(), "blas": blas, "losses": losses, "warmup": args.warmup, "runs": args.runs, "timing": timed, "noise_timing": noise_timed})


if __name__ == "__main__":
    main()
