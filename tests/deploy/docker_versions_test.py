#!/usr/bin/env python3
"""The CPU and CUDA images agree: the same Debian base, the same pinned Python environment
(python/requirements.txt, installed by scripts/install-deps in both build stages), the same runtime
tree script and the same runtime packages; the pins name the torch, NCCL and CUDA runtime wheels
that the CMake build and the GPU machines use (torch 2.11.0 with CUDA 13).

    docker_versions_test.py SOURCE_DIR
"""
import pathlib
import re
import sys

source = pathlib.Path(sys.argv[1])
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def stages(dockerfile):
    """{stage name: [instruction lines]} with continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (source / dockerfile).read_text())
    result, current, args = {}, None, {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"ARG (\w+)=(\S+)", line)
        if match and current is None:
            args[match.group(1)] = match.group(2)
        match = re.match(r"FROM (\S+) AS (\w+)", line)
        if match:
            current = match.group(2)
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match.group(1))
            result[current] = [f"FROM {image}"]
        elif current:
            result[current].append(line)
    return result


def apt_packages(lines):
    packages = set()
    for line in lines:
        match = re.search(r"apt-get install -y --no-install-recommends (.*?)(&&|$)", line)
        if match:
            packages.update(match.group(1).split())
    return packages


cpu, cuda = stages("deploy/docker/Dockerfile"), stages("deploy/docker/Dockerfile.cuda")
check(set(cpu) == set(cuda) == {"build", "runtime"}, f"stages: {set(cpu)} vs {set(cuda)}")
for stage in ("build", "runtime"):
    check(cpu[stage][0] == cuda[stage][0], f"{stage} base: {cpu[stage][0]} vs {cuda[stage][0]}")
for image in (cpu, cuda):
    build = "\n".join(image["build"])
    check("COPY python/ python/" in build and "RUN scripts/install-deps" in build,
          "the build stage installs the pinned python/requirements.txt through scripts/install-deps")
    check("RUN deploy/docker/build-runtime-tree /opt/dpo" in build, "the build stage lays out /opt/dpo")
    check("COPY --from=build /opt/dpo/ /opt/dpo/" in image["runtime"], "the runtime copies /opt/dpo")
check(apt_packages(cpu["runtime"]) == apt_packages(cuda["runtime"]),
      f"runtime packages differ: {apt_packages(cpu['runtime']) ^ apt_packages(cuda['runtime'])}")
check("cuda-nvcc-${CUDA_VERSION}" in " ".join(cuda["build"]) and "ARG CUDA_VERSION=13-0" in cuda["build"],
      "the CUDA build stage installs nvcc 13.0")

pins = dict(line.split("==", 1) for line in (source / "python/requirements.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#"))
check(pins.get("torch") == "2.11.0", f"torch pin {pins.get('torch')}")
check(pins.get("nvidia-nccl-cu13", "").startswith("2."), f"NCCL pin {pins.get('nvidia-nccl-cu13')}")
check(pins.get("nvidia-cuda-runtime", "").startswith("13.0"), f"CUDA runtime pin {pins.get('nvidia-cuda-runtime')}")
direct = {line.split("==")[0]: line.split("==")[1] for line in (source / "python/requirements.in").read_text().splitlines()
          if "==" in line and not line.startswith("#")}
for name, version in direct.items():
    check(pins.get(name) == version, f"requirements.in pins {name}=={version}, requirements.txt has {pins.get(name)}")

for failure in failures:
    print("FAILED:", failure)
print(f"docker versions: {len(failures)} failed")
sys.exit(1 if failures else 0)
