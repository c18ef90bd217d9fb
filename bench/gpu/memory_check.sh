#!/usr/bin/env bash
# The memory model on a GPU: dpo-train runs 3 steps of a ~0.1B Llama shape (hidden 1024, 8
# blocks, grouped-query attention, 4 pairs of 1024 tokens) on CUDA in fp32 and bf16 autocast,
# with and without gradient checkpointing, and prints the CUDA allocator's step peak beside the
# model's total. One line per run goes to OUT_DIR/memory.tsv: name, measured and modelled bytes.
#
#   bench/gpu/memory_check.sh OUT_DIR BINARY_DIR     (device_check.sh's memory stage)
set -uo pipefail
out=$(realpath -m "${1:?usage: memory_check.sh OUT_DIR BINARY_DIR}")
bin=$(realpath "${2:?usage: memory_check.sh OUT_DIR BINARY_DIR}")
work=$(mktemp -d /tmp/dpo-memory-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Rows longer than max_length, so every micro-batch is the model's worst case.
awk 'BEGIN { srand(3); for (i = 0; i < 32; i++) {
  p = ""; c = ""; r = "";
  for (j = 0; j < 700; j++) p = p substr("abcdefgh ijklmnop", int(rand() * 17) + 1, 1);
  for (j = 0; j < 1200; j++) { c = c substr("abcdefgh ijklmnop", int(rand() * 17) + 1, 1); r = r substr("qrstuvw xyzabcde", int(rand() * 16) + 1, 1) }
  printf "{\"prompt\": \"%s\", \"chosen\": \"%s\", \"rejected\": \"%s\"}\n", p, c, r } }' >"$work/train.jsonl"
cat >"$work/job.yaml" <<YAML
model: {init: random, model_type: llama, hidden_size: 1024, num_hidden_layers: 8, num_attention_heads: 16, num_key_value_heads: 4, intermediate_size: 2816, max_position_embeddings: 1024, vocab_size: 0}
data: {train: train.jsonl, max_length: 1024, max_prompt_length: 512}
training: {max_steps: 3, per_device_batch_size: 4, device: cuda}
output: {dir: output, save_steps: 0}
metrics: {progress: never}
YAML

printf 'run\tmeasured_bytes\tmodelled_bytes\n' >"$out/memory.tsv"
cd "$work"
for precision in no bf16; do
  for checkpointing in false true; do
    name="precision=$precision checkpointing=$checkpointing"
    rm -rf output
    log=$("$bin/dpo-train" --config job.yaml --set training.mixed_precision=$precision \
      --set model.gradient_checkpointing=$checkpointing 2>&1)
    echo "$log" | tail -3
    line=$(echo "$log" | grep "tensor memory at the training steps' peak")
    measured=$(echo "$line" | sed -nE 's/.*\(([0-9]+) bytes\) measured.*/\1/p')
    modelled=$(echo "$line" | sed -nE 's/.*\(([0-9]+) bytes\) modelled.*/\1/p')
    printf '%s\t%s\t%s\n' "$name" "${measured:-missing}" "${modelled:-missing}" | tee -a "$out/memory.tsv"
  done
done
