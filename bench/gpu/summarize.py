#!/usr/bin/env python3
"""Summary of one bench/gpu/device_check.sh run: reads what its stages left in OUT_DIR
(versions.log, stages.tsv, gpu_tests/, bench_*.json) and writes summary.json and summary.txt
there. Whatever is missing (a stage that failed or timed out) is reported as missing, never
guessed.

    summarize.py OUT_DIR
"""
import json
import pathlib
import sys


def read_versions(out):
    path = out / "versions.log"
    if not path.exists():
        return {}
    versions = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key:
            versions.setdefault(key, value.strip())
    return versions


def read_stages(out):
    path = out / "stages.tsv"
    if not path.exists():
        return []
    lines = path.read_text().splitlines()[1:]
    stages = []
    for line in lines:
        name, status, seconds = line.split("\t")
        stages.append({"stage": name, "exit": int(status), "seconds": int(seconds),
                       "result": "ok" if status == "0" else ("timed out" if status in ("124", "137") else "failed")})
    return stages


def read_tests(out):
    """gpu_tests/NAME.json (one GoogleTest report per test) and gpu_tests/exits.tsv (each test's
    exit status): a test with a non-zero exit and no failure in a report crashed."""
    folder = out / "gpu_tests"
    exits_path = folder / "exits.tsv"
    if not exits_path.exists():
        return None
    failed, skipped, passed = [], [], []
    for line in exits_path.read_text().splitlines():
        name, status = line.split("\t")
        report_path = folder / f"{name}.json"
        cases = []
        if report_path.exists():
            report = json.loads(report_path.read_text())
            cases = [test for suite in report.get("testsuites", []) for test in suite.get("testsuite", [])]
        if any(test.get("failures") for test in cases):
            message = next(test["failures"][0].get("failure", "") for test in cases if test.get("failures"))
            failed.append({"test": name, "message": message[:2000]})
        elif status != "0" or not cases:
            backtrace = folder / f"{name}.backtrace"
            detail = f"exit {status} (crashed or timed out, no report)"
            if backtrace.exists():
                frames = [l for l in backtrace.read_text().splitlines() if l.startswith("#")][:12]
                detail += "; backtrace:\n" + "\n".join(frames)
            failed.append({"test": name, "message": detail})
        elif any(test.get("result") == "SKIPPED" for test in cases):
            skipped.append(name)
        else:
            passed.append(name)
    return {"passed": len(passed), "failed": failed, "skipped": skipped,
            "tests": len(passed) + len(failed) + len(skipped)}


def read_benches(out):
    benches = {}
    for path in sorted(out.glob("bench_*.json")):
        try:
            benches[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            benches[path.stem] = {"error": f"{path.name}: {error}"}
    return benches


def read_profiles(out):
    """profile_*.txt (dpo-bench-step --profile): for each, every line, and the lines that say where
    the device time went by kind (each run's "==" heading and its kinds, not the kernel list)."""
    profiles = {}
    for path in sorted(out.glob("profile_*.txt")):
        lines = path.read_text(errors="replace").splitlines()
        kinds, in_kernels = [], False
        for line in lines:
            if line.startswith("=="):
                in_kernels = False
                kinds.append(line)
            elif line.strip().startswith("top kernels"):
                in_kernels = True
            elif not in_kernels:
                kinds.append(line)
        profiles[path.stem] = {"lines": lines, "by_kind": kinds}
    return profiles


def read_memory(out):
    """memory.tsv (memory_check.sh): each run's measured and modelled step peak, and their ratio."""
    path = out / "memory.tsv"
    if not path.exists():
        return None
    runs = []
    for line in path.read_text().splitlines()[1:]:
        name, measured, modelled = line.split("\t")
        run = {"run": name, "measured_bytes": measured, "modelled_bytes": modelled}
        if measured.isdigit() and modelled.isdigit() and int(measured) > 0:
            run["modelled_over_measured"] = int(modelled) / int(measured)
        runs.append(run)
    return runs


def bench_lines(name, bench):
    if "error" in bench:
        return [f"{name}: unreadable ({bench['error']})"]
    # A precision the run did not measure has no GEMM figure (0 in the JSON): leave it out.
    gemms = [f"{precision} {bench[key]:.1f} TFLOP/s" for precision, key in (("bf16", "gemm_bf16_tflops"), ("fp32", "gemm_fp32_tflops"))
             if bench.get(key, 0) > 0]
    lines = [f"{name}: LibTorch {bench.get('libtorch', '?')}, GEMM measured {', '.join(gemms) or 'none'}; "
             f"spec bf16 {bench.get('spec_bf16_tflops', 0):.0f}"]
    for run in bench.get("runs", []):
        precision = run["precision"] + ((" TF32 on" if run["tf32"] else " TF32 off") if run["precision"] == "fp32" else "")
        chunk = f"  chunk {run['chunk_tokens']}" if "chunk_tokens" in run else ""
        lines.append(
            f"  {run['shape']:<10} {precision:<13} reference {run['reference']:<11} step {run['step_seconds'] * 1e3:8.1f} ms"
            f"  {run['tokens_per_second']:9.0f} tokens/s  {run['achieved_tflops']:6.1f} TFLOP/s"
            f"  MFU {run['mfu_vs_spec']:.3f} of spec, {run['mfu_vs_gemm']:.3f} of GEMM (policy only {run['policy_mfu_vs_spec']:.3f})"
            f"  peak {run['peak_memory_gib']:.1f} GiB{chunk}")
        if "forward_seconds" in run:
            rest = run["step_seconds"] - run["forward_seconds"] - run["optimizer_seconds"]
            lines.append(f"  {'':<10} of the step: forward passes {run['forward_seconds'] * 1e3:.1f} ms, optimizer "
                         f"{run['optimizer_seconds'] * 1e3:.1f} ms, backward and the rest {rest * 1e3:.1f} ms")
    return lines


def main():
    out = pathlib.Path(sys.argv[1])
    summary = {
        "versions": read_versions(out),
        "stages": read_stages(out),
        "gpu_tests": read_tests(out),
        "benchmarks": read_benches(out),
        "profiles": read_profiles(out),
        "memory": read_memory(out),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    lines = [f"{key}: {value}" for key, value in summary["versions"].items()]
    lines.append("stages: " + ", ".join(f"{s['stage']} {s['result']} ({s['seconds']} s)" for s in summary["stages"]))
    tests = summary["gpu_tests"]
    if tests is None:
        lines.append("gpu tests: no report (stage did not finish)")
    else:
        lines.append(f"gpu tests: {tests['passed']} passed, {len(tests['failed'])} failed, {len(tests['skipped'])} skipped")
        for failure in tests["failed"]:
            lines.append(f"  FAILED {failure['test']}: " + "\n    ".join(failure["message"].splitlines()[:14]))
        lines += [f"  skipped {name}" for name in tests["skipped"]]
    if not summary["benchmarks"]:
        lines.append("benchmarks: none finished")
    for name, bench in summary["benchmarks"].items():
        lines += bench_lines(name, bench)
    if summary["memory"] is None:
        lines.append("memory model: no report (stage did not run)")
    for run in summary["memory"] or []:
        ratio = f"{run['modelled_over_measured']:.3f}" if "modelled_over_measured" in run else "?"
        lines.append(f"memory model {run['run']}: step peak measured {run['measured_bytes']} bytes, "
                     f"modelled {run['modelled_bytes']} (modelled / measured {ratio})")
    for name, profile in summary["profiles"].items():
        lines.append(f"{name}: device time per step by kind (the kernels are in {name}.txt)")
        lines += ["  " + line for line in profile["by_kind"]]
    text = "\n".join(lines) + "\n"
    (out / "summary.txt").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
