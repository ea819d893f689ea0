#!/usr/bin/env python3
"""Recompute a dumped shardrt run with NumPy, from the formulas alone, and compare.

    check_dump.py DUMP_DIR [--tolerance T]   (default: 1e-5 for fp32 runs, 2e-2 for bf16)

DUMP_DIR is what `shardrt run --dump DUMP_DIR` wrote: deployment.json, input.npy, output.npy
and every weight as <global name>.npy. This is an independent implementation of the model
(Hugging Face Llama's rmsnorm, rotate-half RoPE and SiLU-gated MLP; torch's layernorm and erf
gelu; the Mixture-of-Experts FFN of docs/config.md: softmax or sigmoid router, top-k, optional
renormalisation, DeepSeek's latent attention, DeepSeek-V3's choice bias, group-limited choice and routed scale, per-sequence
expert capacity, shared experts, dense first layers; GLM-4.5's partial rotary), in float64, so
that it checks shardrt's math, not only its sharding. Exits 0 when the normwise relative error
||out - ref|| / ||ref|| is within the tolerance, 1 otherwise.

For each MoE layer it first prints one line with the smallest gap, over all tokens, between
the k-th and (k+1)-th largest router score (routing here is float64, shardrt's is fp32, so a
gap near fp32 rounding could flip an expert choice), and the slots kept and dropped.
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


def rope_frequencies(m, dim):
    """theta^(-2i/d); with rope_scaling (Llama 3.1's "llama3"), the three bands of Meta's
    apply_scaling: wavelengths under C/high kept, over C/low divided by factor, between them
    a smooth mix (docs/config.md)."""
    inv_freq = m["rope_theta"] ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    s = m.get("rope_scaling")
    if not s:
        return inv_freq
    if s.get("type") == "yarn":  # YaRN (Peng et al. 2023): a ramp over the correction range
        def correction_dim(rotations):
            return dim * math.log(s["original_max_position_embeddings"] /
                                  (rotations * 2 * math.pi)) / (2 * math.log(m["rope_theta"]))
        low = max(math.floor(correction_dim(s["beta_fast"])), 0)
        high = min(math.ceil(correction_dim(s["beta_slow"])), dim - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0, 1)
        return inv_freq * (1 - ramp) + inv_freq / s["factor"] * ramp
    context, low, high = s["original_max_position_embeddings"], s["low_freq_factor"], s["high_freq_factor"]
    wavelength = 2 * math.pi / inv_freq
    smooth = (context / wavelength - low) / (high - low)
    mixed = (1 - smooth) * inv_freq / s["factor"] + smooth * inv_freq
    return np.where(wavelength < context / high, inv_freq,
                    np.where(wavelength > context / low, inv_freq / s["factor"], mixed))


def rope(x, m):  # x: (batch, seq, heads, head_dim)
    """Rotate-half RoPE on the first rotary_dim dimensions of each head (all when 0); the
    rest pass through (GLM-4.5's partial rotary)."""
    dim = m.get("rotary_dim", 0) or x.shape[3]
    if dim < x.shape[3]:
        return np.concatenate([rope(x[..., :dim], m), x[..., dim:]], axis=-1)
    seq = x.shape[1]
    inv_freq = rope_frequencies(m, dim)
    angles = np.outer(np.arange(seq, dtype=np.float64), inv_freq)  # (seq, dim/2)
    s = m.get("rope_scaling") or {}
    magnitude = s.get("attention_factor", 1.0) if s.get("type") == "yarn" else 1.0
    cos = magnitude * np.concatenate([np.cos(angles)] * 2, axis=-1)[None, :, None, :]
    sin = magnitude * np.concatenate([np.sin(angles)] * 2, axis=-1)[None, :, None, :]
    half = dim // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def softmax_attention(q, k, v, m, scale):
    """softmax(q k^T * scale + mask) v over (batch, seq, heads, d) q, k and v."""
    s = q.shape[1]
    scores = np.einsum("bihd,bjhd->bhij", q, k) * scale
    if m["causal"]:  # with Mistral's window, key j seen by query i when i - window < j <= i
        visible = np.tril(np.ones((s, s), dtype=bool))
        if m.get("sliding_window", 0):
            visible &= ~np.tril(np.ones((s, s), dtype=bool), -m["sliding_window"])
        scores = np.where(visible, scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = scores / scores.sum(axis=-1, keepdims=True)
    return np.einsum("bhij,bjhd->bihd", probs, v)


def latent_attention(x, m, d, p):
    """DeepSeek's multi-head latent attention as transformers' DeepseekV3Attention computes it:
    q from the q latent (or q_proj), k and v up from one kv latent a token, one rotary key a
    token shared by the heads, the rope dims de-interleaved first when rope_interleave."""
    a = m["mla"]
    b, s, _ = x.shape
    h, nope, rd, vd, kvr = m["heads"], a["nope_dim"], a["rope_dim"], a["v_dim"], a["kv_rank"]
    eps = a.get("latent_eps", 1e-6)

    def rms(t, w):
        return t / np.sqrt((t * t).mean(axis=-1, keepdims=True) + eps) * w

    if a.get("q_rank", 0):
        q = rms(x @ load(d, p + "self_attn.q_a_proj.weight").T,
                load(d, p + "self_attn.q_a_layernorm.weight")) @ load(d, p + "self_attn.q_b_proj.weight").T
    else:
        q = x @ load(d, p + "self_attn.q_proj.weight").T
    q = q.reshape(b, s, h, nope + rd)
    compressed = x @ load(d, p + "self_attn.kv_a_proj_with_mqa.weight").T
    latent, k_rot = compressed[..., :kvr], compressed[..., kvr:]
    kv = rms(latent, load(d, p + "self_attn.kv_a_layernorm.weight")) @ load(
        d, p + "self_attn.kv_b_proj.weight").T
    kv = kv.reshape(b, s, h, nope + vd)

    def rotate(t):
        if a.get("rope_interleave", True):  # (x0, x1), (x2, x3), ... -> x0 x2 ... | x1 x3 ...
            t = np.concatenate([t[..., 0::2], t[..., 1::2]], axis=-1)
        return rope(t, {**m, "rotary_dim": 0})

    query = np.concatenate([q[..., :nope], rotate(q[..., nope:])], axis=-1)
    k_rot = np.repeat(rotate(k_rot[:, :, None, :]), h, axis=2)
    key = np.concatenate([kv[..., :nope], k_rot], axis=-1)
    scale = 1.0 / math.sqrt(nope + rd)
    yarn = m.get("rope_scaling") or {}
    if yarn.get("type") == "yarn" and yarn.get("mscale_all_dim", 0) and yarn["factor"] > 1:
        mscale = 0.1 * yarn["mscale_all_dim"] * math.log(yarn["factor"]) + 1  # yarn_apply_mscale
        scale *= mscale * mscale
    out = softmax_attention(query, key, kv[..., nope:], m, scale)
    return out.reshape(b, s, h * vd) @ load(d, p + "self_attn.o_proj.weight").T


def attention(x, m, d, p):
    if m.get("mla"):
        return latent_attention(x, m, d, p)
    b, s, _ = x.shape
    hd, h, kv = m["head_dim"], m["heads"], m["kv_heads"]
    q = x @ load(d, p + "self_attn.q_proj.weight").T
    k = x @ load(d, p + "self_attn.k_proj.weight").T
    v = x @ load(d, p + "self_attn.v_proj.weight").T
    if m.get("qkv_bias"):  # Qwen2
        q = q + load(d, p + "self_attn.q_proj.bias")
        k = k + load(d, p + "self_attn.k_proj.bias")
        v = v + load(d, p + "self_attn.v_proj.bias")
    q, k, v = q.reshape(b, s, h, hd), k.reshape(b, s, kv, hd), v.reshape(b, s, kv, hd)
    if m.get("qk_norm"):  # Qwen3: RMSNorm over head_dim on each head, before rope
        def head_norm(t, w):
            return t / np.sqrt((t * t).mean(axis=-1, keepdims=True) + m["norm_eps"]) * w
        q = head_norm(q, load(d, p + "self_attn.q_norm.weight"))
        k = head_norm(k, load(d, p + "self_attn.k_norm.weight"))
    if m["rope"]:
        q, k = rope(q, m), rope(k, m)
    k = np.repeat(k, h // kv, axis=2)  # grouped-query: head i reads kv head i // (h / kv)
    v = np.repeat(v, h // kv, axis=2)
    out = softmax_attention(q, k, v, m, 1.0 / math.sqrt(hd)).reshape(b, s, h * hd)
    return out @ load(d, p + "self_attn.o_proj.weight").T


def mlp(x, m, d, p, names=("gate_proj", "up_proj", "down_proj")):
    """The FFN of the model's activation with weights p + {gate_proj,up_proj,down_proj}.weight:
    the dense FFN (p = "model.layers.l.mlp."), one routed expert or the shared experts.
    Mixtral's experts name them w1, w3, w2."""
    gate_name, up_name, down_name = names
    up = x @ load(d, p + up_name + ".weight").T
    if m["activation"] == "swiglu":
        gate = x @ load(d, p + gate_name + ".weight").T
        act = gate / (1.0 + np.exp(-gate)) * up
    else:
        erf = np.vectorize(math.erf, otypes=[np.float64])
        act = 0.5 * up * (1.0 + erf(up / math.sqrt(2.0)))
    return act @ load(d, p + down_name + ".weight").T


def capacity(factor, seq_len, top_k, experts):
    """ceil(factor * seq_len * top_k / experts), where a product that is an integer up to
    floating-point noise (1.1 * 14 * 5 / 7 = 11.000000000000002) counts as that integer."""
    c = factor * seq_len * top_k / experts
    nearest = round(c)
    if abs(c - nearest) <= 1e-9 * max(1.0, abs(c)):
        return int(nearest)
    return int(math.ceil(c))


def moe(n, m, d, p, layer, seq_len):
    """The MoE FFN of docs/config.md on n (batch, seq, hidden); prints the routing report."""
    cfg = m["moe"]
    experts, top_k = cfg["experts"], cfg["top_k"]
    b, s, _ = n.shape
    mixtral = m.get("weight_naming") == "mixtral"
    block = p + ("block_sparse_moe." if mixtral else "mlp.")
    z = n @ load(d, block + "gate.weight").T  # (batch, seq, experts)
    if cfg.get("scoring", "softmax") == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        scores = e / e.sum(axis=-1, keepdims=True)
    else:
        scores = 1.0 / (1.0 + np.exp(-z))
    # DeepSeek-V3's choice: score + bias, only within the best top_groups of groups (a group
    # scored by its best two choice scores, or its best one); the others masked to -inf.
    choice = scores.copy()
    if cfg.get("choice_bias"):
        choice = choice + load(d, block + "gate.e_score_correction_bias")
    groups = cfg.get("groups", 1)
    if groups > 1 and cfg.get("top_groups", groups) < groups:
        grouped = choice.reshape(b, s, groups, experts // groups)
        best = np.sort(grouped, axis=-1)[..., ::-1]
        group_score = best[..., :2].sum(-1) if cfg.get("group_score") != "max" else best[..., 0]
        kept_groups = np.argsort(-group_score, axis=-1, kind="stable")[..., :cfg["top_groups"]]
        allowed = np.zeros((b, s, groups), dtype=bool)
        np.put_along_axis(allowed, kept_groups, True, axis=-1)
        choice = np.where(np.repeat(allowed, experts // groups, axis=-1), choice, -np.inf)
    # Largest first, ties to the lower expert index: a stable sort of -choice keeps equal
    # scores in expert order.
    order = np.argsort(-choice, axis=-1, kind="stable")
    chosen = order[..., :top_k]  # (batch, seq, top_k): e_1..e_k
    weights = np.take_along_axis(scores, chosen, axis=-1)  # the scores: the bias only chooses
    if cfg.get("normalize_top_k", True):
        weights = weights / weights.sum(axis=-1, keepdims=True)
    weights = weights * cfg.get("routed_scale", 1.0)

    # Capacity: per sequence, slots in (position, k) order; an expert keeps its first C.
    slots = chosen.reshape(b, s * top_k)
    if cfg.get("capacity_factor") is not None:
        c = capacity(cfg["capacity_factor"], seq_len, top_k, experts)
        onehot = slots[..., None] == np.arange(experts)  # (batch, slots, experts)
        taken_before = np.cumsum(onehot, axis=1) - onehot  # this expert's earlier slots
        kept = (taken_before * onehot).sum(axis=-1) < c
        cap_text = f"capacity {c}"
    else:
        kept = np.ones(slots.shape, dtype=bool)
        cap_text = "dropless"
    kept = kept.reshape(b, s, top_k)

    out = np.zeros_like(n)
    for expert in range(experts):
        bi, si, ki = np.nonzero((chosen == expert) & kept)
        if bi.size:
            y = mlp(n[bi, si], m, d, f"{block}experts.{expert}.",
                    ("w1", "w3", "w2") if mixtral else ("gate_proj", "up_proj", "down_proj"))
            np.add.at(out, (bi, si), weights[bi, si, ki][:, None] * y)
    if cfg.get("shared_experts", 0) > 0:
        qwen2_moe = m.get("weight_naming") == "qwen2_moe"
        shared = mlp(n, m, d, p + ("mlp.shared_expert." if qwen2_moe else "mlp.shared_experts."))
        if cfg.get("shared_gate"):  # Qwen2-MoE: sigmoid(n Wg^T) per token
            g = n @ load(d, p + "mlp.shared_expert_gate.weight").T  # (batch, seq, 1)
            shared = shared / (1.0 + np.exp(-g))
        out = out + shared

    per_expert = np.bincount(chosen[kept], minlength=experts)
    if top_k < experts:
        ranked = np.take_along_axis(choice, order, axis=-1)
        gap = ranked[..., top_k - 1] - ranked[..., top_k]
        bw, sw = np.unravel_index(np.argmin(gap), gap.shape)
        gap_text = (f"smallest gap between scores #{top_k} and #{top_k + 1} {gap[bw, sw]:.3e} "
                    f"(batch row {bw}, position {sw}: expert {order[bw, sw, top_k - 1]} "
                    f"{ranked[bw, sw, top_k - 1]:.6e} vs expert {order[bw, sw, top_k]} "
                    f"{ranked[bw, sw, top_k]:.6e})")
    else:
        gap_text = f"top_k = experts = {experts}: every token takes every expert, no gap"
    print(f"check_dump: moe layer {layer}: {gap_text}; {cap_text}, slots per expert "
          f"[{' '.join(str(v) for v in per_expert)}] = {int(kept.sum())}, "
          f"dropped {int((~kept).sum())}")
    return out


def is_moe(m, layer):
    return ("moe" in m and layer >= m["moe"].get("first_dense", 0)
            and (layer + 1) % m["moe"].get("every", 1) == 0
            and layer not in m["moe"].get("dense_layers", []))


def forward(d, m, seq_len):
    x = load(d, "input")
    for layer in range(m["layers"]):
        p = f"model.layers.{layer}."
        x = x + attention(norm(x, m, d, p + "input_layernorm"), m, d, p)
        n = norm(x, m, d, p + "post_attention_layernorm")
        x = x + (moe(n, m, d, p, layer, seq_len) if is_moe(m, layer) else mlp(n, m, d, p + "mlp."))
    return norm(x, m, d, "model.norm")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump_dir")
    ap.add_argument("--tolerance", type=float, default=None,
                    help="normwise; default the run's own: fp32 1e-5, bf16 2e-2")
    args = ap.parse_args()
    with open(os.path.join(args.dump_dir, "deployment.json")) as f:
        deployment = json.load(f)
    if args.tolerance is None:
        # A bf16 run computed with bf16-rounded weights and activations; the dump holds the
        # fp32 weights, so the reference here is the fp32 model, as the run's own check is.
        args.tolerance = 2e-2 if deployment["workload"].get("dtype") == "bf16" else 1e-5
    ref = forward(args.dump_dir, deployment["model"], deployment["workload"]["seq_len"])
    out = load(args.dump_dir, "output")
    rel = np.linalg.norm(out - ref) / np.linalg.norm(ref)
    ok = bool(np.isfinite(out).all()) and rel <= args.tolerance
    print(f"check_dump: rel_err {rel:.3e} max_abs_err {np.abs(out - ref).max():.3e} "
          f"tolerance {args.tolerance:.0e} (normwise, NumPy float64 reference) "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
