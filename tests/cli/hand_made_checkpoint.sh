# Sourced by the --weights scripts (weights_nan.sh, weights_not_regular.sh, weights_unused.sh):
# a tiny-llama tp 2 run on the CPU, and a checkpoint made from its --dump without the dump's
# manifest, as a hand-made directory of .npy would be (--weights then checks no file list).
# Needs bin, src and work set; defines run (the command, without --weights) and:
#   hand_made_checkpoint DIR   dumps into DIR and drops the manifest; exits 1 if the dump fails
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
run=("${mpi[@]}" "$bin" run "$src/examples/tiny-llama.json" --device cpu --out "$work/out")
hand_made_checkpoint() {
  "${run[@]}" --dump "$1" >/dev/null 2>&1 || { echo "$(basename "$0"): the dump failed"; exit 1; }
  rm "$1/shardrt-output.json"
}
