# Sourced by the bench/distributed scripts: the shared setup of a CPU multi-rank benchmark.
#   bench_setup NAME STEPS TRAINING
# Moves to the repository root and sets: bin (build/bin), work (a temporary folder removed on
# exit), root_flags (mpirun's --allow-run-as-root when root), one BLAS/OpenMP thread per rank
# (exported), and writes $work/job.yaml: a ~10M-parameter GPT-2 shape over 512 synthetic pairs
# (dpo-data synth), T <= 128, the reference precomputed, with TRAINING (a YAML flow mapping's
# inside, e.g. "per_device_batch_size: 8") added to the training section.
# median KEY FILE...: the median of KEY over the metrics.jsonl records after the first step.
bench_setup() {
  local name=$1 steps=$2 training=$3
  cd "$(dirname "${BASH_SOURCE[0]}")/../.."
  bin=build/bin
  work=$(mktemp -d "/tmp/dpo-$name.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
  root_flags=()
  [[ $(id -u) == 0 ]] && root_flags=(--allow-run-as-root)
  "$bin/dpo-data" synth --task words --pairs 512 --seed 7 --out "$work/data" >/dev/null
  cat >"$work/job.yaml" <<YAML
model: {init: random, seed: 1, n_positions: 128, n_embd: 384, n_layer: 6, n_head: 6}
data: {train: data/train.jsonl, max_length: 128, max_prompt_length: 64}
training: {loss_type: sigmoid, learning_rate: 0.0001, $training, max_steps: $steps, threads: 1}
reference: {precompute: true}
output: {save_steps: 0}
metrics: {progress: never}
YAML
}

median() {
  local key=$1
  shift
  jq -s "[.[] | select(.step > 1) | .[\"$key\"]] | sort | .[length/2|floor]" "$@"
}
