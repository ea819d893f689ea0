#!/usr/bin/env python3
"""Recompute a dumped shardrt run with NumPy, from the formulas alone, and compare.

    check_dump.py DUMP_DIR [--tolerance 1e-5]

DUMP_DIR is what `shardrt run --dump DUMP_DIR` wrote: deployment.json, input.npy, output.npy
and every weight as <global name>.npy. This is an independent implementation of the model
(Hugging Face Llama's rmsnorm, rotate-half RoPE and SiLU-gated MLP; torch's layernorm and erf
gelu), in float64, so that it checks shardrt's math, not only its sharding. Exits 0 when the
normwise relative error ||out - ref|| / ||ref|| is within the tolerance, 1 otherwise.
"""
import argparse
import json
import math
import os
import sys

import numpy as np


def load(d, name):
    return np.load(os.path.join(d, name + ".npy")).astype(np.float64)


def norm(x, m, d, prefix):
    w = load(d, prefix + ".weight")
    if m["norm"] == "rmsnorm":
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + m["norm_eps"]) * w
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + m["norm_eps"]) * w + load(d, prefix + ".bias")


def rope(x, theta):  # x: (batch, seq, heads, head_dim)
    seq, dim = x.shape[1], x.shape[3]
    inv_freq = theta ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = np.outer(np.arange(seq, dtype=np.float64), inv_freq)  # (seq, dim/2)
    cos = np.concatenate([np.cos(angles)] * 2, axis=-1)[None, :, None, :]
    sin = np.concatenate([np.sin(angles)] * 2, axis=-1)[None, :, None, :]
    half = dim // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def attention(x, m, d, p):
    b, s, _ = x.shape
    hd, h, kv = m["head_dim"], m["heads"], m["kv_heads"]
    q = (x @ load(d, p + "self_attn.q_proj.weight").T).reshape(b, s, h, hd)
    k = (x @ load(d, p + "self_attn.k_proj.weight").T).reshape(b, s, kv, hd)
    v = (x @ load(d, p + "self_attn.v_proj.weight").T).reshape(b, s, kv, hd)
    if m["rope"]:
        q, k = rope(q, m["rope_theta"]), rope(k, m["rope_theta"])
    k = np.repeat(k, h // kv, axis=2)  # grouped-query: head i reads kv head i // (h / kv)
    v = np.repeat(v, h // kv, axis=2)
    scores = np.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(hd)
    if m["causal"]:
        scores = np.where(np.tril(np.ones((s, s), dtype=bool)), scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = scores / scores.sum(axis=-1, keepdims=True)
    out = np.einsum("bhij,bjhd->bihd", probs, v).reshape(b, s, h * hd)
    return out @ load(d, p + "self_attn.o_proj.weight").T


def mlp(x, m, d, p):
    up = x @ load(d, p + "mlp.up_proj.weight").T
    if m["activation"] == "swiglu":
        gate = x @ load(d, p + "mlp.gate_proj.weight").T
        act = gate / (1.0 + np.exp(-gate)) * up
    else:
        erf = np.vectorize(math.erf)
        act = 0.5 * up * (1.0 + erf(up / math.sqrt(2.0)))
    return act @ load(d, p + "mlp.down_proj.weight").T


def forward(d, m):
    x = load(d, "input")
    for layer in range(m["layers"]):
        p = f"model.layers.{layer}."
        x = x + attention(norm(x, m, d, p + "input_layernorm"), m, d, p)
        x = x + mlp(norm(x, m, d, p + "post_attention_layernorm"), m, d, p)
    return norm(x, m, d, "model.norm")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump_dir")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args()
    with open(os.path.join(args.dump_dir, "deployment.json")) as f:
        model = json.load(f)["model"]
    ref = forward(args.dump_dir, model)
    out = load(args.dump_dir, "output")
    rel = np.linalg.norm(out - ref) / np.linalg.norm(ref)
    ok = bool(np.isfinite(out).all()) and rel <= args.tolerance
    print(f"check_dump: rel_err {rel:.3e} max_abs_err {np.abs(out - ref).max():.3e} "
          f"tolerance {args.tolerance:.0e} (normwise, NumPy float64 reference) "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
