#!/usr/bin/env python3
"""The layers shardrt's GPU benchmarks compare against, written in PyTorch and timed on one GPU.

    python3 bench/torch_layers.py [--dtype fp32|bf16] [--compile] [--iters 20] [--json]

Dense: a Llama-3-8B-shaped layer (batch 8, seq_len 2048, hidden 4096, 32 heads, 8 kv heads,
head_dim 128, swiglu ffn 14336, rmsnorm, rope theta 500000, causal), the same math as
docs/config.md, attention through torch's scaled_dot_product_attention. MoE: the same
attention and a Mixtral-shaped block (8 experts, top-2, expert_ffn_hidden 14336, softmax
router renormalised over the top 2) computed the way Hugging Face's MixtralSparseMoeBlock
does: a Python loop over the experts, each on the tokens routed to it. Prints the median
time of --iters forward passes after warm-up, timed with CUDA events. Run only where torch
and a GPU exist; shapes can be shrunk with --batch/--seq for smaller devices.
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F


def rmsnorm(x, w, eps=1e-5):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype) * w


def rope(x, theta):  # x: (batch, heads, seq, head_dim)
    seq, dim = x.shape[2], x.shape[3]
    inv = theta ** (-torch.arange(0, dim, 2, device=x.device, dtype=torch.float64) / dim)
    ang = torch.outer(torch.arange(seq, device=x.device, dtype=torch.float64), inv)
    cos = torch.cat([ang.cos()] * 2, -1).to(x.dtype)
    sin = torch.cat([ang.sin()] * 2, -1).to(x.dtype)
    half = dim // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


class Layer(torch.nn.Module):
    def __init__(self, a, moe):
        super().__init__()
        h, hd = a.hidden, a.head_dim
        lin = lambda o, i: torch.nn.Linear(i, o, bias=False)
        self.a, self.moe = a, moe
        self.q, self.k, self.v = lin(a.heads * hd, h), lin(a.kv_heads * hd, h), lin(a.kv_heads * hd, h)
        self.o = lin(h, a.heads * hd)
        self.n1, self.n2 = torch.nn.Parameter(torch.ones(h)), torch.nn.Parameter(torch.ones(h))
        if moe:
            self.router = lin(a.experts, h)
            self.experts = torch.nn.ModuleList(
                torch.nn.ModuleList([lin(a.ffn, h), lin(a.ffn, h), lin(h, a.ffn)])
                for _ in range(a.experts))
        else:
            self.gate, self.up, self.down = lin(a.ffn, h), lin(a.ffn, h), lin(h, a.ffn)

    def attention(self, x):
        a = self.a
        b, s, _ = x.shape
        n = rmsnorm(x, self.n1)
        q = self.q(n).view(b, s, a.heads, a.head_dim).transpose(1, 2)
        k = self.k(n).view(b, s, a.kv_heads, a.head_dim).transpose(1, 2)
        v = self.v(n).view(b, s, a.kv_heads, a.head_dim).transpose(1, 2)
        q, k = rope(q, a.theta), rope(k, a.theta)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return x + self.o(o.transpose(1, 2).reshape(b, s, -1))

    def forward(self, x):
        x = self.attention(x)
        n = rmsnorm(x, self.n2)
        if not self.moe:
            return x + self.down(F.silu(self.gate(n)) * self.up(n))
        flat = n.view(-1, n.shape[-1])
        probs = F.softmax(self.router(flat).float(), dim=-1)
        w, idx = torch.topk(probs, self.a.top_k, dim=-1)
        w = (w / w.sum(-1, keepdim=True)).to(n.dtype)
        out = torch.zeros_like(flat)
        for e, (gate, up, down) in enumerate(self.experts):  # Hugging Face Mixtral's loop
            token, slot = torch.where(idx == e)
            if token.numel():
                y = down(F.silu(gate(flat[token])) * up(flat[token]))
                out.index_add_(0, token, y * w[token, slot, None])
        return x + out.view_as(x)


def median_ms(layer, x, iters):
    with torch.no_grad():
        for _ in range(3):
            layer(x)
        times = []
        for _ in range(iters):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            layer(x)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    a.hidden, a.heads, a.kv_heads, a.head_dim, a.ffn, a.theta = 4096, 32, 8, 128, 14336, 500000.0
    a.experts, a.top_k = 8, 2
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    torch.backends.cuda.matmul.allow_tf32 = False  # shardrt's fp32 runs do not use TF32
    torch.backends.cudnn.allow_tf32 = False
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "dtype": a.dtype, "batch": a.batch, "seq_len": a.seq}
    x = torch.randn(a.batch, a.seq, a.hidden, device="cuda", dtype=dtype)
    for name, moe in (("dense", False), ("moe", True)):
        layer = Layer(a, moe).to(device="cuda", dtype=dtype).eval()
        results[f"{name}_eager_ms"] = median_ms(layer, x, a.iters)
        if a.compile:
            results[f"{name}_compile_ms"] = median_ms(torch.compile(layer), x, a.iters)
        del layer
        torch.cuda.empty_cache()
    print(json.dumps(results, indent=2) if a.json else
          "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in results.items()))


if __name__ == "__main__":
    main()
