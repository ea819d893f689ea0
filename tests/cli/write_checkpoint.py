#!/usr/bin/env python3
"""Write a checkpoint for `shardrt run --weights`, independently of shardrt's own writer.

    write_checkpoint.py DUMP_DIR OUT EXPECTED --format safetensors|npy
                        [--dtype F32|F16|BF16] [--shards N] [--seed S]

DUMP_DIR is what `shardrt run --dump` wrote; its <name>.npy files give the weights' names and
shapes. Each weight gets new values, a random permutation of the dumped ones (so norms stay
near one and projections keep their scale, but no value sits where the seed put it), stored
as DTYPE:
  - safetensors: OUT/model-0000k-of-0000N.safetensors, the weights dealt over N shards as
    Hugging Face splits a checkpoint, plus two tensors the model does not use (an embedding
    and an int64 buffer) that shardrt must skip;
  - npy: OUT/<name>.npy (F32 or F16 only: NumPy has no bfloat16).
EXPECTED/<name>.npy holds each weight as float32 after the round trip through DTYPE: what
the run must have used, for check_weights.py.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np


def to_bf16_bits(x):
    """float32 -> bfloat16 bits, rounded to nearest even (no NaN in these weights)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def stored(x, dtype):
    """(bytes as the file holds them, the float32 values a reader gets back)."""
    if dtype == "F32":
        v = x.astype("<f4")
        return v.tobytes(), v.astype(np.float32)
    if dtype == "F16":
        v = x.astype("<f2")
        return v.tobytes(), v.astype(np.float32)
    bits = to_bf16_bits(x).astype("<u2")
    back = (bits.astype(np.uint32) << 16).view(np.float32)
    return bits.tobytes(), back


def write_safetensors(path, tensors):
    """tensors: name -> (dtype, shape, bytes). The format: u64 header length, JSON, data."""
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dump")
    p.add_argument("out")
    p.add_argument("expected")
    p.add_argument("--format", choices=["safetensors", "npy"], required=True)
    p.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--seed", type=int, default=5)
    a = p.parse_args()
    if a.format == "npy" and a.dtype == "BF16":
        sys.exit("write_checkpoint: .npy has no bfloat16")

    rng = np.random.default_rng(a.seed)
    names = sorted(f[:-4] for f in os.listdir(a.dump)
                   if f.endswith(".npy") and f not in ("input.npy", "output.npy"))
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.expected, exist_ok=True)
    shards = [dict() for _ in range(a.shards)]
    for i, name in enumerate(names):
        old = np.load(os.path.join(a.dump, name + ".npy"))
        new = rng.permutation(old.ravel()).reshape(old.shape)
        raw, back = stored(new, a.dtype)
        np.save(os.path.join(a.expected, name + ".npy"), back)
        if a.format == "npy":
            np.save(os.path.join(a.out, name + ".npy"), new.astype("<f4" if a.dtype == "F32" else "<f2"))
        else:
            shards[i * a.shards // len(names)][name] = (a.dtype, old.shape, raw)
    if a.format == "safetensors":
        hidden = np.load(os.path.join(a.dump, "input.npy")).shape[-1]
        shards[0]["model.embed_tokens.weight"] = (
            a.dtype, (7, hidden), stored(rng.standard_normal((7, hidden)), a.dtype)[0])
        shards[-1]["model.rotary_emb.position_ids"] = ("I64", (1, 4), np.arange(4, dtype="<i8").tobytes())
        for k, tensors in enumerate(shards):
            write_safetensors(os.path.join(
                a.out, "model-%05d-of-%05d.safetensors" % (k + 1, a.shards)), tensors)
    print("write_checkpoint: %d weights as %s %s in %s" % (len(names), a.dtype, a.format, a.out))


if __name__ == "__main__":
    main()
