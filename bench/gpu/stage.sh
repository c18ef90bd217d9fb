#!/usr/bin/env bash
# Stages in .gpu/ (ignored by git, carried to the GPU machine) what bench/gpu/device_check.sh needs
# there besides the machine's own torch, CUDA and build tools:
#   .gpu/build/  dpo-train, dpo-bench-step and gpu_tests from BUILD_DIR (default build-gpu: the
#                device configuration below), stripped, and BUILT (commit, date)
#   .gpu/lib/    the shared libraries they need that are neither torch's, CUDA's nor the C
#                runtime's (yaml-cpp, PCRE2)
#   .gpu/deps/   headers, libraries and CMake files of the packages a build there needs
#                (nlohmann_json, CLI11, yaml-cpp, GoogleTest), in the /usr layout
#
#   bench/gpu/stage.sh [BUILD_DIR]
# BUILD_DIR must be configured as device_check.sh configures its own build:
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDPO_WITH_GRPC=OFF -DDPO_WITH_MPI=OFF \
#     -DDPO_WITH_PROMETHEUS=OFF -DDPO_WITH_CUDA=ON -DCMAKE_DISABLE_FIND_PACKAGE_ICU=ON
#   ninja -C build-gpu dpo-train dpo-bench-step gpu_tests
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-gpu}
stage=.gpu
rm -rf "$stage"
mkdir -p "$stage/build/bin" "$stage/build/tests" "$stage/lib" "$stage/deps"

for binary in bin/dpo-train bin/dpo-bench-step tests/gpu_tests; do
  strip -o "$stage/build/$binary" "$build/$binary"
done
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +changes) built $(date -u +%Y-%m-%dT%H:%MZ)" >"$stage/build/BUILT"

# Libraries outside torch's wheel, the CUDA toolkit and the C/C++ runtime, copied with their soname.
for binary in "$stage"/build/bin/* "$stage"/build/tests/*; do
  ldd "$binary" | awk '$3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r soname path; do
  case "$path" in
    */.venv/* | /usr/local/cuda* | */libc.so* | */libm.so* | */libstdc++.so* | */libgcc_s.so* | */ld-linux* | \
      */libpthread.so* | */libdl.so* | */librt.so* | */libutil.so*) ;;
    *) cp -L "$path" "$stage/lib/$soname" ;;
  esac
done

for package in nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libyaml-cpp0.7 libgtest-dev; do
  dpkg -L "$package" | while read -r path; do
    [[ $path == /usr/share/doc* || $path == /usr/share/man* ]] && continue
    if [[ -f $path || -L $path ]]; then
      mkdir -p "$stage/deps$(dirname "$path")" && cp -a "$path" "$stage/deps$path"
    fi
  done
done
du -sh "$stage"/* "$stage"
