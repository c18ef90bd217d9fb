#!/usr/bin/env bash
# The GPU check, one command on a machine with one CUDA GPU and a Python whose torch is a CUDA
# 2.x build (the nvidia-nccl package beside it); no network, none of Debian's -dev packages:
#
#   bench/gpu/device_check.sh OUT_DIR
#
# Stages, each with its own time limit; a stage that fails or times out is recorded and the
# later stages still run; everything is written under OUT_DIR as it happens:
#   versions   versions.log: machine, driver, GPU, torch, NCCL, nvcc, cmake, compiler (first)
#   binaries   use the build carried in .gpu/build (bench/gpu/stage.sh made it on a build machine)
#              if it loads here, else configure and build dpo-train, dpo-bench-step and
#              gpu_tests against this machine's torch (headers and libraries from .gpu/deps)
#   gpu_tests  the gpu-labelled GoogleTests, one process each -> gpu_tests/*.json, exits.tsv
#   bench_*    dpo-bench-step: GPT-2 124M at T=1024 (bf16 and fp32) and a ~1B Llama shape at
#              T=2048 (bf16, output-projection chunks of 512 and 2048 tokens); reference online
#              and precomputed -> bench_*.json / .log
#   profile_*  two more bf16 steps of each shape under LibTorch's profiler: device time by kind
#              and the top kernels -> profile_*.txt
#   memory     bench/gpu/memory_check.sh: the CUDA allocator's step peak of dpo-train beside the
#              memory model's total, fp32 and bf16, with and without checkpointing -> memory.tsv
#   summary    bench/gpu/summarize.py -> summary.json and summary.txt (always runs)
# Each stage's exit status and seconds go to stages.tsv. The whole check fits in 9 minutes with
# the carried build (about 3 when it loads), including a build here when it does not.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:?usage: bench/gpu/device_check.sh OUT_DIR}")
mkdir -p "$out"
repo=$(pwd)
python=${DPO_PYTHON:-python3}
stages="$out/stages.tsv"
printf 'stage\texit\tseconds\n' >"$stages"

# stage NAME LIMIT_SECONDS COMMAND...: runs COMMAND with its output in OUT/NAME.log (and on the
# terminal), records its exit status (124: timed out) and never stops the script.
stage() {
  local name=$1 limit=$2 started=$SECONDS
  shift 2
  echo "== $name (limit ${limit} s)"
  # Functions of this script run in a child bash (exported below), so that timeout can end them.
  if [[ $(type -t "$1") == function ]]; then set -- bash -c '"$@"' "$1" "$@"; fi
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$out/$name.log"
  local status=${PIPESTATUS[0]}
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - started))" >>"$stages"
  echo "== $name: exit $status after $((SECONDS - started)) s"
  return "$status"
}

versions() {
  date -u +"date %Y-%m-%dT%H:%M:%SZ"
  echo "uname $(uname -srm)"
  echo "cpus $(nproc), memory $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu /'
  "$python" - <<'PY'
import torch
print("python", __import__("sys").version.split()[0], "at", __import__("sys").executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
print("torch nccl", ".".join(map(str, torch.cuda.nccl.version())))
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"device {p.name}, {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs, capability {p.major}.{p.minor}")
try:
    import nvidia.nccl as n
    print("nvidia-nccl package", list(n.__path__)[0])
except ImportError:
    print("nvidia-nccl package: not installed")
PY
  echo "nvcc $(nvcc --version 2>&1 | tail -1)"
  echo "cmake $(cmake --version 2>&1 | head -1)"
  echo "ninja $(ninja --version 2>&1)"
  echo "c++ $(c++ --version 2>&1 | head -1)"
}

# The runtime libraries of the binaries: torch's, its nvidia packages' (CUDA runtime, NCCL) and the
# small ones carried from the build machine in .gpu/lib (yaml-cpp, PCRE2).
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
nvidia_libs=$("$python" - 2>/dev/null <<'PY'
import glob, os, nvidia
dirs = set()
for root in nvidia.__path__:
    dirs.update(os.path.dirname(p) for p in glob.glob(os.path.join(root, "**", "lib*.so*"), recursive=True))
print(":".join(sorted(dirs)))
PY
)
export LD_LIBRARY_PATH="$torch_lib:$nvidia_libs:$repo/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_DEBUG=WARN
export OMP_NUM_THREADS=8 OPENBLAS_NUM_THREADS=8 MKL_NUM_THREADS=8

build_here() {
  local nccl_root deps=$repo/.gpu/deps/usr
  nccl_root=$("$python" -c 'import nvidia.nccl as n; print(list(n.__path__)[0])')
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDPO_PYTHON="$(command -v "$python")" \
    -DCMAKE_PREFIX_PATH="$deps" -DNCCL_ROOT="$nccl_root" -DDPO_WITH_GRPC=OFF -DDPO_WITH_MPI=OFF \
    -DDPO_WITH_PROMETHEUS=OFF -DDPO_WITH_CUDA=ON -DCMAKE_DISABLE_FIND_PACKAGE_ICU=ON &&
    ninja -C build-gpu dpo-train dpo-bench-step gpu_tests
}

# Each gpu test in a process of its own (a crash loses one test, not the report): JSON reports
# gpu_tests/NAME.json, exit statuses in gpu_tests/exits.tsv; a test killed by a signal is run
# again under cuda-gdb for a backtrace in gpu_tests/NAME.backtrace when cuda-gdb is there.
gpu_tests() {
  local binary=build-device/tests/gpu_tests suite="" first rest name status
  mkdir -p "$out/gpu_tests"
  : >"$out/gpu_tests/exits.tsv"
  # --gtest_list_tests prints "Suite." lines, each followed by indented test names.
  "$binary" --gtest_list_tests | while read -r first rest; do
    if [[ $first == *. ]]; then suite=$first; continue; fi
    [[ -n $suite ]] || continue  # gtest_main's "Running main() from ..." comes first
    name=$suite$first
    timeout 120 "$binary" --gtest_filter="$name" --gtest_output="json:$out/gpu_tests/$name.json"
    status=$?
    printf '%s\t%s\n' "$name" "$status" >>"$out/gpu_tests/exits.tsv"
    if ((status > 128 && status != 137)) && command -v cuda-gdb >/dev/null; then
      timeout 120 cuda-gdb -batch -ex run -ex bt --args "$binary" --gtest_filter="$name" >"$out/gpu_tests/$name.backtrace" 2>&1
    fi
  done
}

# Use the carried build when its programs load here; else build.
binaries() {
  if [[ -x .gpu/build/tests/gpu_tests ]] && .gpu/build/tests/gpu_tests --gtest_list_tests >/dev/null &&
    .gpu/build/bin/dpo-train --help >/dev/null; then
    echo "using the carried build in .gpu/build ($(cat .gpu/build/BUILT 2>/dev/null))"
    ln -sfn .gpu/build build-device
  else
    echo "the carried build does not load here (above); building"
    build_here && ln -sfn build-gpu build-device
  fi
}

export python repo
export out
export -f versions build_here binaries gpu_tests
stage versions 60 versions
stage binaries 420 binaries
if [[ -x build-device/bin/dpo-bench-step ]]; then
  export DPO_TEST_BINARY_DIR="$repo/build-device/bin" DPO_TEST_FIXTURES_DIR="${DPO_TEST_FIXTURES_DIR:-$repo/tests/fixtures}"
  stage gpu_tests 180 gpu_tests
  stage bench_gpt2 120 build-device/bin/dpo-bench-step --device cuda --shape gpt2-124m --precision both \
    --steps 10 --json "$out/bench_gpt2.json"
  stage bench_llama1b 150 build-device/bin/dpo-bench-step --device cuda --shape llama-1b --precision bf16 \
    --steps 6 --json "$out/bench_llama1b.json"
  stage bench_llama1b_chunk2048 150 build-device/bin/dpo-bench-step --device cuda --shape llama-1b \
    --precision bf16 --steps 6 --chunk-tokens 2048 --json "$out/bench_llama1b_chunk2048.json"
  stage memory 90 bench/gpu/memory_check.sh "$out" build-device/bin
  stage profile_llama1b 120 build-device/bin/dpo-bench-step --device cuda --shape llama-1b --precision bf16 \
    --steps 2 --profile "$out/profile_llama1b.txt"
  stage profile_gpt2 90 build-device/bin/dpo-bench-step --device cuda --shape gpt2-124m --precision bf16 \
    --steps 2 --profile "$out/profile_gpt2.txt"
else
  echo "no binaries: the test and benchmark stages are skipped" | tee "$out/skipped.txt"
fi
stage summary 30 "$python" bench/gpu/summarize.py "$out"
exit 0
