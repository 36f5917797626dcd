#!/usr/bin/env python3
"""Writes crates/ftheta-nn/tests/golden/seq.json: PyTorch's forward values and gradients for
ftheta's sequence layers (Embedding, RNN, GRU, LSTM, causal self-attention, the transformer
block), read by crates/ftheta-nn/tests/golden_seq.rs.

Run by hand (CI has no Python; the JSON is committed):

    pip install torch numpy safetensors
    python scripts/golden_seq.py

Every weight, input and loss weight R is rounded to float32 before PyTorch computes in float64, so
the expected values are exact answers for the very numbers the f32 test feeds ftheta. Each case's
loss is (out * R).sum() (plus (h_n * R_h).sum() for the recurrent layers' final states), so R is the
output gradient and every element of the backward is checked, not only a sum.

Interop check. `python scripts/golden_seq.py --check-ftheta FILE` loads a checkpoint written by
ftheta into the torch module its metadata names (`ftheta.module`, e.g. {"kind": "gru", "input": 3,
"hidden": 4, "layers": 2}) with `load_state_dict(strict=True)`, runs it on the input in
`ftheta.input` and compares with `ftheta.output`. golden_seq.rs writes such a file when
FTHETA_INTEROP_OUT names a path.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "ftheta-nn", "tests", "golden", "seq.json")

rng = np.random.default_rng(20240614)


def f32(a):
    """Rounds to the nearest float32, kept as float64."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def normal(*shape, scale=1.0):
    return f32(scale * rng.standard_normal(shape))


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def enc(x):
    x = x.detach() if isinstance(x, torch.Tensor) else torch.tensor(x)
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def rounded_state(module):
    """Rounds every parameter of a freshly built module to float32 (in place) and returns the state."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(f32(p.detach().numpy())))
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def embedding_case():
    weight = normal(6, 3)
    ids = np.array([[4, 1, 4, 0], [5, 4, 2, 1]])
    w = t(weight, True)
    out = F.embedding(torch.tensor(ids), w)
    r = normal(*out.shape)
    (out * t(r)).sum().backward()
    return {"name": "embedding", "weight": enc(w), "ids": enc(torch.tensor(ids, dtype=torch.float64)), "r": enc(r),
            "out": enc(out), "grad_weight": enc(w.grad)}


RECURRENT = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def make_recurrent(kind, inputs, hidden, layers):
    return RECURRENT[kind](inputs, hidden, num_layers=layers, batch_first=True)


def recurrent_case(kind, layers, batch=2, steps=5, inputs=3, hidden=4):
    torch.manual_seed(7 + layers)
    m = make_recurrent(kind, inputs, hidden, layers).double()
    state = rounded_state(m)
    x = t(normal(batch, steps, inputs), True)
    h0 = t(normal(layers, batch, hidden, scale=0.5), True)
    c0 = t(normal(layers, batch, hidden, scale=0.5), True) if kind == "lstm" else None
    out, hn = m(x, (h0, c0) if kind == "lstm" else h0)
    if kind == "lstm":
        hn, cn = hn
    r = normal(*out.shape)
    rh = normal(*hn.shape)
    loss = (out * t(r)).sum() + (hn * t(rh)).sum()
    case = {"name": f"{kind}_l{layers}", "kind": kind, "layers": layers, "input": inputs, "hidden": hidden,
            "state_dict": {k: enc(v) for k, v in state.items()}, "keys": list(state.keys()),
            "x": enc(x), "h0": enc(h0), "r": enc(r), "r_h": enc(rh)}
    if kind == "lstm":
        rc = normal(*cn.shape)
        loss = loss + (cn * t(rc)).sum()
        case.update(c0=enc(c0), r_c=enc(rc), c_n=enc(cn))
    loss.backward()
    case.update(out=enc(out), h_n=enc(hn), loss=float(loss.item()), grad_x=enc(x.grad), grad_h0=enc(h0.grad),
                grads={n: enc(p.grad) for n, p in m.named_parameters()})
    if kind == "lstm":
        case["grad_c0"] = enc(c0.grad)
    return case


# ---------------------------------------------------------------------------------------------
# nanoGPT's attention, MLP and block (Karpathy, model.py), written out here as ftheta's twins: the
# same maths and parameter names; no weight tying and no dropout (ftheta checks dropout apart).


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.n_head = heads

    def forward(self, x, weights=None):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        if weights is not None:
            weights.append(att)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.c_fc = nn.Linear(dim, 4 * dim)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim)

    def forward(self, x, weights=None):
        x = x + self.attn(self.ln_1(x), weights)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """nanoGPT's GPT.transformer (wte, wpe, h, ln_f): token ids [B, T] to hidden states [B, T, C]."""

    def __init__(self, vocab, context, layers, heads, dim):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(context, dim)
        self.h = nn.ModuleList([Block(dim, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim)

    def forward(self, idx, weights=None):
        t = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for b in self.h:
            x = b(x, weights)
        return self.ln_f(x)


def randomize(module, scale=0.3):
    """Every parameter (LayerNorm's too, so that its γ and β are checked) from N(0, scale²), as f32."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(normal(*p.shape, scale=scale)))
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def sdpa_case():
    q, k, v = (t(normal(2, 2, 5, 3), True) for _ in range(3))
    att = F.softmax((q @ k.transpose(-2, -1)) / math.sqrt(3) + torch.triu(torch.full((5, 5), float("-inf")), 1), -1)
    out = att @ v
    r, rw = normal(*out.shape), normal(*att.shape)
    ((out * t(r)).sum() + (att * t(rw)).sum()).backward()
    return {"name": "sdpa_causal", "q": enc(q), "k": enc(k), "v": enc(v), "r": enc(r), "r_w": enc(rw), "out": enc(out),
            "weights": enc(att), "grad_q": enc(q.grad), "grad_k": enc(k.grad), "grad_v": enc(v.grad)}


def module_case(name, module, x, ids=False, **meta):
    state = randomize(module)
    if not ids:
        x = t(x, True)
    weights = []
    out = module(x, weights)
    r = normal(*out.shape)
    (out * t(r)).sum().backward()
    case = {"name": name, "state_dict": {k: enc(v) for k, v in state.items()}, "keys": list(state.keys()),
            "x": enc(x.to(torch.float64)), "r": enc(r), "out": enc(out), "weights": [enc(w) for w in weights],
            "grads": {n: enc(p.grad) for n, p in module.named_parameters()}}
    if not ids:
        case["grad_x"] = enc(x.grad)
    case.update(meta)
    return case


def attention_cases():
    torch.manual_seed(3)
    return [
        sdpa_case(),
        module_case("attention", CausalSelfAttention(8, 2), normal(2, 5, 8), dim=8, heads=2),
        module_case("block", Block(8, 2), normal(2, 5, 8), dim=8, heads=2),
        module_case("transformer", Transformer(7, 6, 2, 2, 8), torch.tensor([[1, 2, 3, 4, 0], [6, 5, 4, 4, 2]]),
                    ids=True, vocab=7, context=6, layers=2, heads=2, dim=8),
    ]


def check_ftheta(path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    state = load_file(path)
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    spec = json.loads(meta["ftheta.module"])
    if spec["kind"] in RECURRENT:
        m = make_recurrent(spec["kind"], spec["input"], spec["hidden"], spec["layers"])
    else:
        print(f"unknown module kind {spec['kind']}", file=sys.stderr)
        return 2
    m.load_state_dict(state, strict=True)
    print(f"{path}: loaded into torch.nn.{type(m).__name__} with load_state_dict(strict=True): keys {sorted(state)}")
    x = torch.tensor(json.loads(meta["ftheta.input"]), dtype=torch.float32)
    want = torch.tensor(json.loads(meta["ftheta.output"]), dtype=torch.float32)
    with torch.no_grad():
        got = m(x)[0]
    err = ((got - want).abs() / want.abs().clamp_min(1.0)).max().item()
    print(f"torch output vs ftheta's output on the same input {list(x.shape)}: max relative difference {err:.3g}")
    if err > 1e-5:
        print("MISMATCH", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check-ftheta", metavar="FILE", help="load an ftheta checkpoint into its torch twin strictly")
    args = ap.parse_args()
    if args.check_ftheta:
        sys.exit(check_ftheta(args.check_ftheta))
    torch.set_default_dtype(torch.float64)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    cases = [embedding_case()]
    for kind in ("rnn", "gru", "lstm"):
        for layers in (1, 2):
            cases.append(recurrent_case(kind, layers))
    cases += attention_cases()
    doc = {"generator": "scripts/golden_seq.py", "torch": torch.__version__, "cases": cases}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} cases -> {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
