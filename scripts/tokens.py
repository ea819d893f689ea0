#!/usr/bin/env python3
"""Text to token ids and back for `shardrt generate`, with the checkpoint's own tokenizer.

shardrt works on token ids only. This script turns text into a --prompts file, and a
generate.json back into text, with the `tokenizers` package from PyPI
(`pip install tokenizers`) and the checkpoint's tokenizer.json:

    tokens.py encode TOKENIZER "first prompt" "second prompt" [--max-new-tokens N] --out prompts.json
    mpirun -np 2 build/shardrt generate DEPLOYMENT.json --prompts prompts.json --weights CKPT
    tokens.py decode TOKENIZER shardrt-out/generate.json [--prompts prompts.json]

TOKENIZER is a tokenizer.json file or the checkpoint directory that holds one. `decode` prints
each request's new text (after its prompt's, with --prompts). Exits 77, saying so, when the
`tokenizers` package is missing.
"""
import argparse
import json
import os
import sys
import tempfile

try:
    import tokenizers
except ImportError:
    print("SKIPPED: tokens.py needs the tokenizers package (pip install tokenizers)")
    sys.exit(77)


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(path):
        raise SystemExit(f"tokens.py: error: {path}: no tokenizer.json there")
    return tokenizers.Tokenizer.from_file(path)


def write_atomically(path, text):
    """The whole file or none: written beside the destination, then renamed over it."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tokens-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def encode(args):
    tok = load(args.tokenizer)
    requests = []
    for i, text in enumerate(args.text):
        ids = tok.encode(text, add_special_tokens=not args.no_special_tokens).ids
        if not ids:
            raise SystemExit(f"tokens.py: error: text #{i + 1} encodes to no tokens")
        request = {"tokens": ids}
        if args.max_new_tokens:
            request["max_new_tokens"] = args.max_new_tokens
        requests.append(request)
    text = json.dumps({"requests": requests}, indent=1) + "\n"
    if args.out:
        write_atomically(args.out, text)
    else:
        sys.stdout.write(text)


def decode(args):
    tok = load(args.tokenizer)
    with open(args.generated) as f:
        generated = json.load(f)["requests"]
    prompts = None
    if args.prompts:
        with open(args.prompts) as f:
            prompts = json.load(f)["requests"]
        if len(prompts) != len(generated):
            raise SystemExit(f"tokens.py: error: {args.prompts} has {len(prompts)} requests, "
                             f"{args.generated} {len(generated)}")
    for i, request in enumerate(generated):
        new = tok.decode(request["tokens"], skip_special_tokens=False)
        if prompts is not None:
            print(f"[{i}] {tok.decode(prompts[i]['tokens'])} >>> {new}  ({request['finish']})")
        else:
            print(f"[{i}] {new}  ({request['finish']})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("encode", help="text to a --prompts file")
    e.add_argument("tokenizer")
    e.add_argument("text", nargs="+")
    e.add_argument("--max-new-tokens", type=int, default=0)
    e.add_argument("--no-special-tokens", action="store_true",
                   help="leave out the tokenizer's BOS and other added tokens")
    e.add_argument("--out", help="the prompts file (default: standard output)")
    d = sub.add_parser("decode", help="a generate.json to text")
    d.add_argument("tokenizer")
    d.add_argument("generated")
    d.add_argument("--prompts", help="the --prompts file, to print each prompt before its text")
    args = ap.parse_args()
    encode(args) if args.command == "encode" else decode(args)


if __name__ == "__main__":
    main()
