#!/usr/bin/env python3
"""Fails when an include or a library link runs against the layer order of the source tree.

The order, lowest first (docs/architecture.md, "Layers and dependency order"):

    core  <-  proto  <-  job  <-  trainer, reference_server  <-  launcher

A file may include, and a library may link, only its own layer and the layers before it;
trainer and reference_server share a rank and never use each other. Inside core the folders
follow their own order (CORE_ORDER). tests/ may use every layer; bench/ sits above tests/ because
the reference server's benchmarks reuse the test fixtures that start a real server process.

Usage: check_layering.py ROOT   (prints every crossing as file:line, exits 1 if there is one)
Standard library only.
"""
import pathlib
import re
import sys

# Top-level folders and their rank; equal ranks are siblings that must not use each other.
LAYERS = {"core": 0, "proto": 1, "job": 2, "trainer": 3, "reference_server": 3, "launcher": 4,
          "tests": 5, "bench": 6}
# Inside core, lowest first: a folder may include only itself and those before it.
CORE_ORDER = ["common", "cuda", "metrics", "tokenizer", "model", "data", "loss", "optim"]
# Generated headers ("dpo/v1/x.pb.h", "grpc/health/v1/...") belong to proto.
GENERATED_PREFIXES = {"dpo": "proto", "grpc": "proto"}
SOURCE_SUFFIXES = {".h", ".cc", ".cu", ".cuh"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ADD_LIBRARY = re.compile(r"add_library\(\s*([A-Za-z0-9_]+)")
LINK = re.compile(r"target_link_libraries\(\s*([A-Za-z0-9_\-]+)([^)]*)\)", re.S)


def unit_of(relative):
    """(layer, core folder or None) of a path relative to the root, or None outside the layers."""
    parts = pathlib.PurePosixPath(relative).parts
    if not parts:
        return None
    top = GENERATED_PREFIXES.get(parts[0], parts[0]) if len(parts) > 1 else parts[0]
    if top not in LAYERS:
        return None
    sub = parts[1] if top == "core" and len(parts) > 2 else None
    return top, sub


def allowed(user, used):
    """May `user` ((layer, core folder)) depend on `used`? Returns the reason when it may not."""
    (user_layer, user_sub), (used_layer, used_sub) = user, used
    if user_layer == used_layer:
        if user_layer != "core" or user_sub is None or used_sub is None:
            return None
        if used_sub not in CORE_ORDER or user_sub not in CORE_ORDER:
            return f"core/{used_sub or user_sub} is not in CORE_ORDER"
        if CORE_ORDER.index(used_sub) > CORE_ORDER.index(user_sub):
            return f"core/{user_sub} may not use core/{used_sub} (comes later in {CORE_ORDER})"
        return None
    if LAYERS[used_layer] < LAYERS[user_layer]:
        return None
    if LAYERS[used_layer] == LAYERS[user_layer]:
        return f"{user_layer} and {used_layer} are siblings and must not use each other"
    return f"{user_layer} may not use {used_layer} (a later layer)"


def include_crossings(root):
    for path in sorted(root.rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        user = unit_of(relative)
        if user is None or relative.split("/")[0] not in LAYERS:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            used = unit_of(match.group(1))
            if used is None:
                continue
            reason = allowed(user, used)
            if reason:
                yield f"{relative}:{number}: includes \"{match.group(1)}\": {reason}"


def cmake_files(root):
    for path in sorted(root.rglob("CMakeLists.txt")):
        relative = path.relative_to(root).as_posix()
        if relative.split("/")[0] in LAYERS:
            yield path, relative


def link_crossings(root):
    # Every library's owner: the folder of the CMakeLists.txt that adds it.
    owners = {}
    for path, relative in cmake_files(root):
        for name in ADD_LIBRARY.findall(path.read_text()):
            owners[name] = unit_of(relative)
    for path, relative in cmake_files(root):
        text = path.read_text()
        user = unit_of(relative)
        for match in LINK.finditer(text):
            number = text.count("\n", 0, match.start()) + 1
            for name in match.group(2).split():
                if name in owners:
                    reason = allowed(user, owners[name])
                    if reason:
                        yield f"{relative}:{number}: links {name}: {reason}"


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(argv[1]).resolve()
    if not (root / "core").is_dir():
        print(f"check_layering: {root} has no core/ folder", file=sys.stderr)
        return 2
    crossings = list(include_crossings(root)) + list(link_crossings(root))
    for crossing in crossings:
        print(crossing)
    if crossings:
        print(f"check_layering: {len(crossings)} crossing(s) of the layer order", file=sys.stderr)
        return 1
    print("check_layering: no include or link runs against the layer order")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
