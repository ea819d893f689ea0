#!/usr/bin/env python3
"""Runs the GPU tests of a ctest listing on a machine that has no ctest and no build tree.

    python3 bench/gpu_ctest_run.py LISTING.json --build DIR --mpiexec PATH [--jobs N] [--log DIR]
                                   [--seconds S] [--skip-passed EARLIER_OUTPUT]

LISTING.json is `ctest --show-only=json-v1 -L gpu` of the CUDA build, with the source and build
folders it was made in (bench/gpu_carry_prepare.sh writes it as {"source": ..., "build": ...,
"ctest": ...}). Each test's command, working folder and environment are taken as ctest would
run them, with the build folder replaced by --build, the source folder by this checkout and
/usr/bin/mpiexec by --mpiexec. Verdicts follow ctest's properties: SKIP_RETURN_CODE,
SKIP_REGULAR_EXPRESSION, PASS_REGULAR_EXPRESSION, FAIL_REGULAR_EXPRESSION, WILL_FAIL, TIMEOUT.
On a GPU machine a skip means something is missing, so it is counted apart and fails the run.
Each test's output goes to --log/NAME.txt; one line per test and a summary go to stdout.
Multi-rank runs that went through NCCL with ranks sharing the GPU are counted (the run's
communicator line says "ranks sharing a GPU").
--seconds: no test starts after S seconds (those left are listed as NOT RUN and fail the run),
so that a caller with a hard limit still gets every result so far. --skip-passed: leave out the
tests an earlier run's output lists as PASS (GPU time is short; the earlier run is named).
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time


def props(test):
    return {p["name"]: p["value"] for p in test.get("properties", [])}


def rewrite(text, mapping):
    for old, new in mapping:
        text = text.replace(old, new)
    return text


def run_one(test, mapping, log_dir):
    p = props(test)
    cmd = [rewrite(a, mapping) for a in test["command"]]
    cwd = rewrite(p.get("WORKING_DIRECTORY", os.getcwd()), mapping)
    os.makedirs(cwd, exist_ok=True)
    env = dict(os.environ)
    for item in p.get("ENVIRONMENT", []):
        key, _, value = item.partition("=")
        env[key] = rewrite(value, mapping)
    timeout = float(p.get("TIMEOUT", 1500))
    start = time.time()
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out, code = r.stdout.decode(errors="replace"), r.returncode
    except subprocess.TimeoutExpired as e:
        out, code = (e.stdout or b"").decode(errors="replace"), None
    seconds = time.time() - start
    with open(os.path.join(log_dir, test["name"] + ".txt"), "w") as f:
        f.write(" ".join(cmd) + "\n" + out + f"\n---- exit {code}, {seconds:.1f} s\n")
    if code is None:
        return "FAIL", f"timed out after {timeout:.0f} s", seconds, out
    if code == p.get("SKIP_RETURN_CODE", -1) or any(
            re.search(rx, out, re.M) for rx in p.get("SKIP_REGULAR_EXPRESSION", [])):
        return "SKIP", "skipped", seconds, out
    if any(re.search(rx, out, re.M) for rx in p.get("FAIL_REGULAR_EXPRESSION", [])):
        return "FAIL", "a FAIL_REGULAR_EXPRESSION matched", seconds, out
    if "PASS_REGULAR_EXPRESSION" in p:
        ok = any(re.search(rx, out, re.M) for rx in p["PASS_REGULAR_EXPRESSION"])
    else:
        ok = code == 0
    if p.get("WILL_FAIL", False):
        ok = not ok
    return ("PASS" if ok else "FAIL"), f"exit {code}", seconds, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listing")
    ap.add_argument("--build", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--log", default="gpu-ctest-logs")
    ap.add_argument("--seconds", type=float, default=float("inf"))
    ap.add_argument("--skip-passed")
    args = ap.parse_args()
    listing = json.load(open(args.listing))
    here = os.getcwd()
    # The build folder first: it usually lies inside the source folder.
    mapping = [(listing["build"], os.path.abspath(args.build)), (listing["source"], here),
               ("/usr/bin/mpiexec", args.mpiexec), ("/usr/bin/bash", "bash")]
    tests = listing["ctest"]["tests"]
    if args.skip_passed:
        passed = {line.split()[1] for line in open(args.skip_passed) if line.startswith("PASS ")}
        print(f"gpu ctest: {len(passed)} tests passed in {args.skip_passed}; running the other "
              f"{sum(t['name'] not in passed for t in tests)}")
        tests = [t for t in tests if t["name"] not in passed]
    os.makedirs(args.log, exist_ok=True)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0, "NOT RUN": 0}
    shared = 0
    start = time.time()

    def bounded(test):
        if time.time() - start > args.seconds:
            return "NOT RUN", f"not started: past --seconds {args.seconds:.0f}", 0.0, ""
        return run_one(test, mapping, args.log)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(bounded, t): t["name"] for t in tests}
        for f in concurrent.futures.as_completed(futures):
            verdict, why, seconds, out = f.result()
            counts[verdict] += 1
            nccl = "ranks sharing a GPU" in out
            shared += nccl
            print(f"{verdict:4} {futures[f]:60} {seconds:6.1f} s  {why}{'  [nccl, shared GPU]' if nccl else ''}",
                  flush=True)
            if verdict == "FAIL":
                print("\n".join("     | " + line for line in out.splitlines()[-25:]), flush=True)
    print(f"gpu ctest: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped, "
          f"{counts['NOT RUN']} not run of {len(tests)} in {time.time() - start:.0f} s; {shared} ran "
          f"through NCCL with ranks sharing the GPU")
    return 0 if counts["PASS"] == len(tests) else 1


if __name__ == "__main__":
    sys.exit(main())
