"""Independent float64 BERT masked-LM forward in NumPy, straight from the BERT definition
(post-LayerNorm encoder, exact-erf GELU or gelu_new, MLM head: dense + GELU + LayerNorm, decoder tied
to the word embeddings + bias), reading a Hugging Face checkpoint folder itself.

stdin: {"dir": str, "tokens": [[id, ...]], "patch": {"layer", "position", "neurons", "scale"} | null}
stdout: logits [[[float] * V] * T], one sequence per row of tokens (no padding).
With argument `ig`: stdin {"dir", "tokens", "layer", "position", "gold", "alphas", "weights"},
stdout the integrated-gradients scores of that layer's neurons at `position` (official
algorithm on the full sequence; gradients by float64 central differences).
"""
import json
import math
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = {"F32": "<f4", "F16": "<f2"}[info["dtype"]]
        out[name] = np.frombuffer(body[start:end], dtype=dtype).astype(np.float64).reshape(info["shape"])
    return out


def param(ws, name):
    old = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    for candidate in ("bert." + name, name, "bert." + old, old):
        if candidate in ws:
            return ws[candidate]
    raise KeyError(name)


def layer_norm(x, g, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + b


erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(cfg, ws, ids, patch, replace=None, capture=None):
    p = lambda name: param(ws, name)
    act = gelu_tanh if cfg.get("hidden_act") == "gelu_new" else gelu
    eps = cfg.get("layer_norm_eps", 1e-12)
    heads = cfg["num_attention_heads"]
    T = len(ids)
    x = p("embeddings.word_embeddings.weight")[ids] + p("embeddings.position_embeddings.weight")[:T] \
        + p("embeddings.token_type_embeddings.weight")[0]
    x = layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), eps)
    d = x.shape[1]
    dh = d // heads
    for l in range(cfg["num_hidden_layers"]):
        pre = "encoder.layer.%d." % l
        lin = lambda h, name: h @ p(pre + name + ".weight").T + p(pre + name + ".bias")
        q, k, v = (lin(x, "attention.self." + m).reshape(T, heads, dh).transpose(1, 0, 2) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = attn.transpose(1, 0, 2).reshape(T, d)
        x = layer_norm(x + lin(attn, "attention.output.dense"), p(pre + "attention.output.LayerNorm.weight"), p(pre + "attention.output.LayerNorm.bias"), eps)
        inner = act(lin(x, "intermediate.dense"))
        if patch and patch["layer"] == l:
            inner[patch["position"], patch["neurons"]] *= patch["scale"]
        if capture is not None:
            capture.append(inner.copy())
        if replace and replace[0] == l:
            inner[replace[1]] = replace[2]
        x = layer_norm(x + lin(inner, "output.dense"), p(pre + "output.LayerNorm.weight"), p(pre + "output.LayerNorm.bias"), eps)
    h = act(x @ ws["cls.predictions.transform.dense.weight"].T + ws["cls.predictions.transform.dense.bias"])
    h = layer_norm(h, param(ws, "cls.predictions.transform.LayerNorm.weight"), param(ws, "cls.predictions.transform.LayerNorm.bias"), eps)
    return h @ p("embeddings.word_embeddings.weight").T + ws["cls.predictions.bias"]


def softmax_prob(logits, gold):
    z = np.exp(logits - logits.max())
    return z[gold] / z.sum()


def integrated_gradients(cfg, ws, ids, layer, position, gold, alphas, weights, h=1e-5):
    """The official algorithm on the full sequence, with gradients by central differences."""
    acts = []
    forward(cfg, ws, ids, None, capture=acts)
    a = acts[layer][position]
    prob = lambda vec: softmax_prob(forward(cfg, ws, ids, None, replace=(layer, position, vec))[position], gold)
    scores = np.zeros_like(a)
    for alpha, w in zip(alphas, weights):
        base = alpha * a
        for i in range(len(a)):
            up, down = base.copy(), base.copy()
            up[i] += h
            down[i] -= h
            scores[i] += a[i] * w * (prob(up) - prob(down)) / (2 * h)
    return scores


if __name__ == "__main__" and "ig" in sys.argv[1:]:
    request = json.load(sys.stdin)
    with open(os.path.join(request["dir"], "config.json")) as f:
        cfg = json.load(f)
    ws = read_safetensors(os.path.join(request["dir"], "model.safetensors"))
    scores = integrated_gradients(cfg, ws, np.array(request["tokens"]), request["layer"], request["position"], request["gold"], request["alphas"], request["weights"])
    json.dump(scores.tolist(), sys.stdout)
elif __name__ == "__main__":
    request = json.load(sys.stdin)
    with open(os.path.join(request["dir"], "config.json")) as f:
        cfg = json.load(f)
    ws = read_safetensors(os.path.join(request["dir"], "model.safetensors"))
    json.dump([forward(cfg, ws, np.array(ids), request.get("patch")).tolist() for ids in request["tokens"]], sys.stdout)
