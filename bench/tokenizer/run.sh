#!/usr/bin/env bash
# Encoding speed of dpo-cluster's byte-level BPE against Hugging Face `tokenizers` (Rust), the
# peer it is checked against (tests/integration/tokenizer), on the same generated corpus, one
# thread each (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false); best of N passes.
#   bench/tokenizer/run.sh [BUILD_DIR] [LINES]
# Needs the built dpo-bench-tokenizer, the project's Python (PYTHON, default .venv/bin/python,
# with tokenizers) and the vocabularies of shared/tokenizers (TOKENIZER_FIXTURES, default
# ../shared/tokenizers beside the repository). Prints one JSON line per run and a summary table.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
lines=${2:-60000}
python=${PYTHON:-$root/.venv/bin/python}
fixtures=${TOKENIZER_FIXTURES:-$root/../shared/tokenizers}
scripts=$root/tests/integration/tokenizer
work=$build/bench-tokenizer
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false

for family in gpt2 llama3 qwen3; do
  [ -d "$fixtures/$family" ] || { echo "run.sh: $fixtures/$family not found: set TOKENIZER_FIXTURES" >&2; exit 2; }
done
mkdir -p "$work"
"$python" "$scripts/gpt2_tokenizer_json.py" "$fixtures/gpt2" "$work/gpt2"

declare -A tokenizer_dir=([gpt2]=$work/gpt2 [llama3]=$fixtures/llama3 [qwen3]=$fixtures/qwen3)
corpus=$work/corpus-$lines.jsonl
[ -f "$corpus" ] || "$python" "$scripts/make_corpus.py" "$corpus" --lines "$lines"
summary=()
for family in gpt2 llama3 qwen3; do
  ours=$("$build/bin/dpo-bench-tokenizer" --tokenizer "${tokenizer_dir[$family]}" --corpus "$corpus" --passes 5)
  ours2=$("$build/bin/dpo-bench-tokenizer" --tokenizer "${tokenizer_dir[$family]}" --corpus "$corpus" --passes 5 --threads 2)
  peer=$("$python" "$root/bench/tokenizer/hf_bench.py" "${tokenizer_dir[$family]}" "$corpus" --passes 3)
  echo "$ours"
  echo "$ours2"
  echo "$peer"
  summary+=("$("$python" -c '
import json, sys
name, a, a2, b = sys.argv[1], *map(json.loads, sys.argv[2:])
if a["tokens"] != b["tokens"]:
    print("warning: %s: token counts differ: %d vs %d" % (name, a["tokens"], b["tokens"]), file=sys.stderr)
ours, ours2, peer, per_call = a["mb_per_second"], a2["mb_per_second"], b["mb_per_second"], b["per_call_mb_per_second"]
print("%-7s %6.2f MB  ours %6.2f MB/s  (2 threads %6.2f)  HF %6.2f MB/s  (per call %6.2f)  ratio %.2fx"
      % (name, a["bytes"] / 1e6, ours, ours2, peer, per_call, ours / peer))
' "$family" "$ours" "$ours2" "$peer")")
done
printf '\nfamily   corpus     dpo-cluster (1 thread)                  HF tokenizers %s (1 thread)   ours / HF batch\n' \
  "$("$python" -c 'import tokenizers; print(tokenizers.__version__)')"
printf '%s\n' "${summary[@]}"
