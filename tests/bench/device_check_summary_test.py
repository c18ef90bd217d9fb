#!/usr/bin/env python3
"""bench/gpu/summarize.py on the files a device check leaves: a real dpo-bench-step JSON (CPU run),
per-test GoogleTest JSON reports with a pass, a failure and a skip, a test that crashed, a stage that timed out, and a stage
that never wrote its file. The summary must report each as it is, and nothing that is not there.

    device_check_summary_test.py SOURCE_DIR DPO_BENCH_STEP
"""
import json
import pathlib
import subprocess
import sys
import tempfile

source, bench_step = pathlib.Path(sys.argv[1]), sys.argv[2]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


with tempfile.TemporaryDirectory() as directory:
    out = pathlib.Path(directory)
    (out / "versions.log").write_text("date 2026-12-04T10:00:00Z\ngpu NVIDIA H200, 143771 MiB\ntorch 2.11.0+cu130\n")
    (out / "stages.tsv").write_text("stage\texit\tseconds\nversions\t0\t2\nbinaries\t0\t5\n"
                                    "gpu_tests\t1\t40\nbench_gpt2\t0\t30\nbench_llama1b\t124\t150\n")
    tests_dir = out / "gpu_tests"
    tests_dir.mkdir()
    (tests_dir / "exits.tsv").write_text("Suite.Passes\t0\nSuite.Fails\t1\nSuite.Skips\t0\nSuite.Crashes\t139\n")

    def report(name, **case):
        suite, test = name.split(".")
        (tests_dir / f"{name}.json").write_text(json.dumps(
            {"tests": 1, "testsuites": [{"name": suite, "testsuite": [dict(name=test, status="RUN", **case)]}]}))

    report("Suite.Passes", result="COMPLETED")
    report("Suite.Fails", result="COMPLETED", failures=[{"failure": "tests/gpu/x.cc:10\nValue of: ok\n  Actual: false"}])
    report("Suite.Skips", result="SKIPPED")
    (tests_dir / "Suite.Crashes.backtrace").write_text("Program received signal SIGSEGV\n#0  0x1 in Crash () at x.cc:5\n")
    subprocess.run([bench_step, "--threads", "1", "--steps", "1", "--json", str(out / "bench_gpt2.json")],
                   check=True, stdout=subprocess.DEVNULL, env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    written = json.loads((out / "bench_gpt2.json").read_text())

    # What dpo-bench-step --profile appends per run (step_profile.cc), for one run.
    (out / "profile_llama1b.txt").write_text(
        "== llama-1b bf16 reference online, 4 pairs: 470.0 ms of device activity per step (2 steps profiled)\n"
        "  GEMM                       300.00 ms   63.8%    900 launches\n"
        "  elementwise and other      170.00 ms   36.2%   4000 launches\n"
        "  top kernels (ms per step, share, launches per step, kind, name):\n"
        "    120.00   25.5%    300  GEMM         nvjet_tst_256x128\n")
    subprocess.run([sys.executable, str(source / "bench/gpu/summarize.py"), str(out)], check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    text = (out / "summary.txt").read_text()

    check(summary["versions"]["torch"] == "2.11.0+cu130", f"versions: {summary['versions']}")
    results = {s["stage"]: s["result"] for s in summary["stages"]}
    check(results == {"versions": "ok", "binaries": "ok", "gpu_tests": "failed", "bench_gpt2": "ok",
                      "bench_llama1b": "timed out"}, f"stages: {results}")
    tests = summary["gpu_tests"]
    check(tests["passed"] == 1 and tests["skipped"] == ["Suite.Skips"], f"tests: {tests}")
    check([f["test"] for f in tests["failed"]] == ["Suite.Fails", "Suite.Crashes"], f"failed: {tests['failed']}")
    check("FAILED Suite.Fails: tests/gpu/x.cc:10" in text, "the failure and its place are in summary.txt")
    check("FAILED Suite.Crashes: exit 139" in text and "#0  0x1 in Crash () at x.cc:5" in text,
          "a crashed test is reported with its exit status and backtrace")
    check(list(summary["benchmarks"]) == ["bench_gpt2"], "only the benchmark that wrote its file is reported")
    runs = summary["benchmarks"]["bench_gpt2"]["runs"]
    check(len(runs) == 4 and runs == written["runs"], "every run of the bench JSON is carried over unchanged")
    for run in runs:
        check(f"{run['tokens_per_second']:9.0f} tokens/s" in text, f"tokens/s of {run['shape']} {run['reference']}")
        flops = run["step_tflop"] / run["step_seconds"]
        check(abs(flops - run["achieved_tflops"]) <= 0.01 + 1e-3 * flops, f"achieved TFLOP/s of {run}")
        check(run["reference"] == "precomputed" or run["step_tflop"] > run["policy_tflop"], "online counts the reference")

    profile = summary["profiles"]["profile_llama1b"]
    check(len(profile["lines"]) == 5 and len(profile["by_kind"]) == 3, f"profile: {profile}")
    check("GEMM                       300.00 ms" in text and "nvjet_tst_256x128" not in text,
          "summary.txt has the time by kind and leaves the kernel list in the profile file")

    (tests_dir / "exits.tsv").unlink()
    subprocess.run([sys.executable, str(source / "bench/gpu/summarize.py"), str(out)], check=True, stdout=subprocess.DEVNULL)
    check("gpu tests: no report" in (out / "summary.txt").read_text(), "a missing test report is said to be missing")

for failure in failures:
    print("FAILED:", failure)
print(f"device check summary: {len(failures)} failed")
sys.exit(1 if failures else 0)
