#!/usr/bin/env bash
# tokens_roundtrip.sh SHARDRT DEPLOYMENT OUT MPIRUN...
# scripts/tokens.py around `shardrt generate`: a word-level tokenizer over the deployment's
# vocabulary (made here with the tokenizers package), text encoded into a --prompts file,
# generated from, and decoded back. Each prompt must decode to its text, and each request's
# new text must have as many words as it has new tokens. Skipped (77) without a Python that
# has tokenizers (SHARDRT_HF_PYTHON, else /opt/shardrt/hf-venv/bin/python).
set -eu
shardrt=$1 deployment=$2 out=$3
shift 3
python=${SHARDRT_HF_PYTHON:-/opt/shardrt/hf-venv/bin/python}
if ! [ -x "$python" ] || ! "$python" -c "import tokenizers" 2>/dev/null; then
  echo "SKIPPED: no Python with the tokenizers package at $python (scripts/hf-crosscheck.sh" \
       "--install makes one; or set SHARDRT_HF_PYTHON)"
  exit 77
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$out" && mkdir -p "$out"
"$python" - "$out/tokenizer.json" <<'PY'
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
words = ["w%d" % i for i in range(97)]
words[:6] = ["the", "cat", "sat", "on", "a", "mat"]
tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="a"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tok.decoder = decoders.WordPiece(prefix="##")  # joins the words with spaces
tok.save(sys.argv[1])
PY
"$python" "$here/scripts/tokens.py" encode "$out/tokenizer.json" "the cat sat on the mat" \
  "a cat" --max-new-tokens 5 --out "$out/prompts.json"
"$@" -np 2 "$shardrt" generate "$deployment" --prompts "$out/prompts.json" --ignore-eos \
  --device cpu --validate --out "$out/gen"
"$python" "$here/scripts/tokens.py" decode "$out/tokenizer.json" "$out/gen/generate.json" \
  --prompts "$out/prompts.json" | tee "$out/decoded.txt"
"$python" - "$out/decoded.txt" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
want = ["the cat sat on the mat", "a cat"]
ok = len(lines) == 2
for line, prompt in zip(lines, want):
    head, new = line.split(" >>> ")
    words = new.rsplit("  (", 1)[0].split()
    ok = ok and head.split("] ", 1)[1] == prompt and len(words) == 5
print("tokens_roundtrip:", "OK" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
