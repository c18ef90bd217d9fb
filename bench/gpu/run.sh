#!/usr/bin/env bash
# The GPU check, in one script: on a machine with one CUDA GPU and a torch 2.x install, builds
# dpo_core, dpo-train, dpo-bench-step and the gpu tests against torch's bundled CUDA LibTorch
# and the NCCL of the nvidia-nccl package, runs the gpu-labelled tests, then a short DPO step
# benchmark (GPT-2 124M shape, sequence 1024, bf16 autocast and fp32), and writes everything
# to RESULTS_DIR:
#   nvidia-smi.txt, configure.log, build.log, gpu_tests.json/.log, bench_bf16.json/.log,
#   bench_fp32.json/.log, summary.txt (tokens/s and model FLOP utilisation).
#   bench/gpu/run.sh RESULTS_DIR [BUILD_DIR]
# gRPC, MPI and Prometheus are not needed (and not built). yaml-cpp, nlohmann_json and CLI11 (and
# GTest for the tests) must be findable: installed, or staged with bench/gpu/stage-deps.sh and
# passed as DPO_DEPS_PREFIX=<staged dir>/usr.
set -euo pipefail
cd "$(dirname "$0")/../.."
results=$(realpath -m "${1:?usage: bench/gpu/run.sh RESULTS_DIR [BUILD_DIR]}")
build=${2:-build-gpu}
mkdir -p "$results"
nvidia-smi >"$results/nvidia-smi.txt" 2>&1 || true

torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
nccl_root=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
prefix="$torch_prefix${DPO_DEPS_PREFIX:+;$DPO_DEPS_PREFIX}"
tests=ON
cmake_args=(-S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
  -DDPO_WITH_GRPC=OFF -DDPO_WITH_MPI=OFF -DDPO_WITH_PROMETHEUS=OFF -DDPO_WITH_CUDA=ON
  ${nccl_root:+-DNCCL_ROOT="$nccl_root"})
if ! cmake "${cmake_args[@]}" -DDPO_BUILD_TESTS=ON >"$results/configure.log" 2>&1; then
  echo "configure with tests failed (GTest missing?); building without tests" | tee -a "$results/configure.log"
  tests=OFF
  cmake "${cmake_args[@]}" -DDPO_BUILD_TESTS=OFF >>"$results/configure.log" 2>&1
fi
targets=(dpo-train dpo-bench-step)
[[ $tests == ON ]] && targets+=(gpu_tests)
ninja -C "$build" "${targets[@]}" >"$results/build.log" 2>&1 || { tail -40 "$results/build.log"; exit 1; }

export OMP_NUM_THREADS=4
if [[ $tests == ON ]]; then
  "$build/tests/gpu_tests" --gtest_output="json:$results/gpu_tests.json" 2>&1 | tee "$results/gpu_tests.log" || true
fi
"$build/bin/dpo-bench-step" --device cuda --bf16 --steps 10 --json "$results/bench_bf16.json" 2>&1 | tee "$results/bench_bf16.log"
"$build/bin/dpo-bench-step" --device cuda --steps 5 --json "$results/bench_fp32.json" 2>&1 | tee "$results/bench_fp32.log"

python3 - "$results" <<'PY' | tee "$results/summary.txt"
import json, sys, pathlib
results = pathlib.Path(sys.argv[1])
for name in ("bench_bf16", "bench_fp32"):
    data = json.loads((results / f"{name}.json").read_text())
    print(f"{name}: matmul peak {data['matmul_peak_gflops'] / 1e3:.1f} TFLOP/s measured")
    for run in data["runs"]:
        print(f"  {run['shape']} reference {run['reference']}: {run['tokens_per_second']:.0f} tokens/s, "
              f"{run['model_gflops'] / 1e3:.1f} TFLOP/s, MFU {run['mfu_vs_measured_peak']:.2f} of the measured peak")
tests = results / "gpu_tests.json"
if tests.exists():
    t = json.loads(tests.read_text())
    print(f"gpu tests: {t['tests']} run, {t['failures']} failed, {t.get('disabled', 0)} disabled")
PY
