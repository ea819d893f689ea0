#!/usr/bin/env python3
"""The build itself refuses an include against the layers, not only scripts/check-layers.sh.

Takes the compile command CMake recorded for one source file of a layer (compile_commands.json)
and compiles two probes with its include folders: one including a header of a layer it may use
(must compile) and one including a header of a layer above it (must fail, the header not found).
    layers_build_refuses.py BUILD_DIR
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

# (a source of the layer, a header it may include, a header it must not see)
PROBES = [
    ("runtime/shape.cpp", "config/plan.h", "dag/deployment_graph.h"),
    ("planner/plan_cost.cpp", "config/deployment.h", "runtime/tensor.h"),
    ("comm/progress_board.cpp", "common/errors.h", "kernels/cpu/linear.h"),
    ("config/plan.cpp", "common/dtype.h", "comm/communicator.h"),
    ("dag/dot_reader.cpp", "runtime/tracer.h", "launch/run_command.h"),
]


def compiles(command, directory, header):
    args = shlex.split(command)
    # Keep the compiler and its flags; drop the source and the object it names.
    keep, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-c"):
            skip = a == "-o"
            continue
        if a.endswith(".cpp"):
            continue
        keep.append(a)
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.cpp")
        with open(probe, "w") as f:
            f.write(f'#include "{header}"\nint shardrt_layer_probe;\n')
        run = subprocess.run(keep + ["-fsyntax-only", probe], cwd=directory,
                             capture_output=True, text=True)
    return run.returncode == 0, run.stderr


def main():
    build = sys.argv[1]
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    failed = 0
    for source, allowed, forbidden in PROBES:
        entry = next((e for e in entries if e["file"].endswith("/" + source)), None)
        if entry is None:
            print(f"layers: no compile command for {source}")
            failed += 1
            continue
        ok, err = compiles(entry["command"], entry["directory"], allowed)
        if not ok:
            print(f"layers: {source}'s target cannot include {allowed}, which it may use:\n{err}")
            failed += 1
        ok, err = compiles(entry["command"], entry["directory"], forbidden)
        if ok:
            print(f"layers: {source}'s target compiled #include \"{forbidden}\": the build "
                  f"does not enforce the layers (CMakeLists.txt, shardrt_layer_headers)")
            failed += 1
        elif "No such file" not in err:
            print(f"layers: {source} with {forbidden} failed for another reason:\n{err}")
            failed += 1
        else:
            print(f"layers: {source}'s target refuses {forbidden} and accepts {allowed}")
    print(f"{len(PROBES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
