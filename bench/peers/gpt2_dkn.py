"""PyTorch CPU peer for bench/dkn: clustering + functional filter of degenerate knowledge neurons.

For one fact's located knowledge neurons (methods.md §4.3 Steps 2-4, D6, factlab's 'project'
path rule) on a GPT-2 read from a Hugging Face-layout folder:

  distances   d(A, B) = |1/(v_A . k_B)| between adjacent layers; spans 2..max_span through one
              located neuron per intermediate layer (layer-by-layer min-plus); 1000 = infinity
  clustering  persistent-homology union-find (numpy-linear quantiles, stable edge order; union
              by rank with ties to the edge's higher index, as dkn.py's UnionFind)
  filter      per candidate cluster one padded batch of the fact's prompts with the cluster's
              neurons zeroed (post-GELU) at every answer-predicting position; the drop is
              (P0 - P)/P0 of the mean teacher-forced answer probability; then the joint drop

Prints one JSON object: timing samples (ms) of distances + clustering + filter (P0 included),
the clusters and the drops of the last run.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from gpt2_forward import Gpt2, read_config, read_params  # noqa: E402

INF = 1000.0


def answer_prob(model, prompts, target, zeroed):
    """Mean teacher-forced answer probability; `zeroed` = [(layer, index)] set to 0 at the answer positions."""
    seqs = [p + target[:-1] for p in prompts]
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = torch.tensor([s + [0] * (T - len(s)) for s in seqs])  # right padding: causal, never read
    d, H, f = model.cfg["n_embd"], model.cfg["n_head"], model.cfg["n_inner"]
    dh, eps = d // H, model.cfg["eps"]
    keep = {}
    for l, i in zeroed:
        m = keep.setdefault(l, torch.ones(B, T, f))
        for b, p in enumerate(prompts):
            m[b, len(p) - 1 : len(p) - 1 + len(target), i] = 0.0
    future = torch.ones(T, T, dtype=torch.bool).triu_(1)
    x = model.wte[ids] + model.wpe[:T]
    for l, (ln1w, ln1b, qkvw, qkvb, aow, aob, ln2w, ln2b, fcw, fcb, pw, pb) in enumerate(model.layers):
        h = F.layer_norm(x, model.shape, ln1w, ln1b, eps)
        q, k, v = (t.reshape(B, T, H, dh).transpose(1, 2) for t in (h @ qkvw + qkvb).split(d, dim=-1))
        z = torch.softmax((q @ k.transpose(-1, -2)).mul(dh**-0.5).masked_fill(future, float("-inf")), dim=-1) @ v
        x = x + z.transpose(1, 2).reshape(B, T, d) @ aow + aob
        act = model.act(F.layer_norm(x, model.shape, ln2w, ln2b, eps) @ fcw + fcb)
        if l in keep:
            act = act * keep[l]
        x = x + act @ pw + pb
    rows = torch.tensor([len(p) - 1 + j for p in prompts for j in range(len(target))])
    batch = torch.arange(B).repeat_interleave(len(target))
    h = F.layer_norm(x[batch, rows], model.shape, model.ln_f[0], model.ln_f[1], eps)  # answer positions only
    gold = torch.log_softmax(h @ model.wte_t, dim=-1).gather(1, torch.tensor(target * B).unsqueeze(1))
    return gold.view(B, len(target)).sum(1).exp().mean().item()


def distances(model, neurons, max_span):
    n = len(neurons)
    layer = [l for l, _ in neurons]
    values = torch.stack([model.layers[l][10][i] for l, i in neurons])  # rows of W_out (c_proj [f, d])
    keys = torch.stack([model.layers[l][8][:, i] for l, i in neurons])  # columns of W_in (c_fc [d, f])
    w = values @ keys.T
    hop = torch.where(w == 0, torch.full_like(w, float("inf")), (1.0 / w).abs()).tolist()
    by_layer = {}
    for k, l in enumerate(layer):
        by_layer.setdefault(l, []).append(k)
    out = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            a, b = (i, j) if layer[i] <= layer[j] else (j, i)
            span, d = layer[b] - layer[a], float("inf")
            if 1 <= span <= max_span:
                frontier = {a: 0.0}
                for mid in range(layer[a] + 1, layer[b]):
                    frontier = {c: min(dist + hop[p][c] for p, dist in frontier.items()) for c in by_layer.get(mid, [])}
                d = min((dist + hop[p][b] for p, dist in frontier.items()), default=float("inf"))
            out[i][j] = out[j][i] = min(d, INF)
    return out


def quantile(values, q):
    return torch.quantile(torch.tensor(values, dtype=torch.float64), q).item()


def clusters(matrix, s):
    n = len(matrix)
    pairs = [(i, j, matrix[i][j]) for i in range(n) for j in range(i + 1, n)]
    finite = [d for _, _, d in pairs if d < s["infThreshold"]]
    if not finite:
        return []
    radius = quantile(finite, s["distanceQuantile"])
    edges = sorted((p for p in pairs if p[2] < radius), key=lambda p: p[2])
    parent, rank, size, birth = list(range(n)), [0] * n, [1] * n, [0.0] * n

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, d in edges[: int(s["fractionOfEdges"] * len(edges))]:
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        if size[ri] == 1:
            birth[i] = d
        if size[rj] == 1:
            birth[j] = d
        child, root = (rj, ri) if rank[ri] > rank[rj] else (ri, rj)
        if rank[child] == rank[root]:
            rank[root] += 1
        parent[child] = root
        size[root] += size[child]
    theta = quantile(birth, s["persistenceQuantile"])
    if not edges:
        return []
    groups = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(k)
    return sorted((m for r, m in groups.items() if len(m) > 1 and edges[-1][2] - birth[r] > theta), key=lambda m: m[0])


def run(model, job):
    s = job["settings"]
    neurons = [tuple(x) for x in job["neurons"]]
    found = clusters(distances(model, neurons, s["maxSpan"]), s)
    p0 = answer_prob(model, job["prompts"], job["target"], [])
    drop = lambda ks: (p0 - answer_prob(model, job["prompts"], job["target"], [neurons[k] for k in ks])) / p0  # noqa: E731
    drops = [drop(c) for c in found]
    passing = [c for c, x in zip(found, drops) if x < s["thresholdLow"]]
    joint = drop([k for c in passing for k in c]) if passing else None
    return {"clusters": found, "drops": drops, "joint_drop": joint, "p0": p0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--job", required=True, help="JSON: neurons, prompts, target, settings")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    threads = benchlib.setup_threads(args.threads)
    blas = benchlib.blas_report()
    benchlib.log(f"torch {torch.__version__}, {threads} threads, BLAS: {blas['summary']}")
    model = Gpt2(read_config(args.checkpoint), read_params(args.checkpoint))
    with open(args.job) as f:
        job = json.load(f)
    timing = benchlib.time_runs(lambda: run(model, job), args.warmup, args.runs)
    benchlib.emit({"peer": "gpt2_dkn", "runtime": benchlib.runtime_info(), "blas": blas, "timing": timing, **run(model, job)})


if __name__ == "__main__":
    main()
