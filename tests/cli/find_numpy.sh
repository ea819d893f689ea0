# Sourced by the scripts that check shardrt with NumPy: sets $python to a python3 that has
# NumPy, or exits 77 (ctest: skipped) and says why. The system python3 comes first: a pyenv
# shim on PATH may lack NumPy.
python=""
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c "import numpy" 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "SKIP: no python3 with numpy (Debian: python3-numpy)"; exit 77; }
