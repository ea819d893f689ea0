#!/usr/bin/env bash
# Builds the libFuzzer targets of the file parsers with clang and runs each for FUZZ_SECONDS
# (default 60) on a copy of its seed corpus (fuzz/corpus/<target>). Exits non-zero on any
# finding: the input that caused it is kept as build-fuzz/artifacts/<target>-crash-... (or
# -leak-, -timeout-, -oom-); replay it with `build-fuzz/fuzz/<target> FILE`.
#   FUZZ_SECONDS=600 fuzz/run.sh            # longer
#   fuzz/run.sh fuzz_dot                    # one target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
dir=${FUZZ_BUILD_DIR:-build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_deployment fuzz_profile fuzz_hf_config fuzz_dot fuzz_safetensors fuzz_npy)

command -v clang++ >/dev/null || { echo "fuzz/run.sh: clang++ not found (scripts/install-deps.sh installs clang)" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S . -B "$dir" -DSHARDRT_FUZZ=ON -DSHARDRT_CUDA=OFF \
  -DSHARDRT_BUILD_TESTS=OFF -DSHARDRT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j "${FUZZ_JOBS:-2}" --target "${targets[@]}"

# The largest seed is the 24 KB valid.dot; a few times the largest seed lets inputs grow
# without spending the time on megabyte inputs. The weight-file seeds are under 4 KB.
declare -A max_len=([fuzz_deployment]=16384 [fuzz_profile]=16384 [fuzz_hf_config]=16384 [fuzz_dot]=65536
                    [fuzz_safetensors]=16384 [fuzz_npy]=16384)
declare -A corpus=([fuzz_deployment]=deployment [fuzz_profile]=profile [fuzz_hf_config]=hf_config [fuzz_dot]=dot
                   [fuzz_safetensors]=safetensors [fuzz_npy]=npy)
mkdir -p "$dir/artifacts"
status=0
for t in "${targets[@]}"; do
  work="$dir/corpus/${corpus[$t]}"  # grows as the fuzzer finds new paths; the seeds stay clean
  mkdir -p "$work"
  cp -n fuzz/corpus/"${corpus[$t]}"/* "$work"/
  echo "fuzz/run.sh: $t for ${seconds} s"
  # -timeout: one input taking 10 s is a finding (a quadratic path a hostile file could use);
  # -rss_limit_mb / -malloc_limit_mb: a parser trying to allocate 2 GB for one input is one.
  # -seed: the same mutations on every run of CI, so a finding there is reproducible (set
  # FUZZ_SEED=0 for a random one).
  if ! "$dir/fuzz/$t" "$work" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
       -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$dir/artifacts/$t-" 2>"$dir/$t.log"; then
    tail -60 "$dir/$t.log"
    echo "fuzz/run.sh: $t: FINDING (log: $dir/$t.log, input: $dir/artifacts/$t-*)"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$dir/$t.log" | sed "s/^/  $t: /"
    echo "fuzz/run.sh: $t: no finding in ${seconds} s"
  fi
done
exit $status
