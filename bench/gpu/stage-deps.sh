#!/usr/bin/env bash
# Copies the header-only and small libraries dpo_core and dpo-train need besides LibTorch
# (nlohmann_json, CLI11, yaml-cpp, GTest) from this Debian machine into DIR, keeping the /usr
# layout, for a GPU machine that has torch but not these packages:
#   bench/gpu/stage-deps.sh DIR      then on the GPU machine: DPO_DEPS_PREFIX=DIR/usr bench/gpu/run.sh OUT
set -euo pipefail
dir=$(realpath -m "${1:?usage: bench/gpu/stage-deps.sh DIR}")
for package in nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libyaml-cpp0.7 libgtest-dev googletest; do
  dpkg -L "$package" 2>/dev/null | while read -r path; do
    if [[ -f $path ]]; then mkdir -p "$dir$(dirname "$path")" && cp -a "$path" "$dir$path"; fi
    if [[ -L $path ]]; then mkdir -p "$dir$(dirname "$path")" && cp -a "$path" "$dir$path"; fi
  done
done
du -sh "$dir"
