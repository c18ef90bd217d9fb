#!/usr/bin/env bash
# ZeRO stages side by side on this machine: 2 ranks x 1 thread, a ~10M-parameter GPT-2-shaped
# model, 8 pairs per rank per step in 2 micro-batches, the reference precomputed. Runs stage 0,
# 2, 1, 0, 2, 1 (alternating, so drift in the machine's speed hits every stage alike) and prints
# per stage: the median pairs/s (steps after the first, over both runs), its ratio to stage 0,
# rank 0's AdamW-state and gradient bytes as dpo-train reports them, and the bytes a rank sends
# per step by the ring algorithms' counts for a gradient of G bytes on N ranks (all-reduce
# 2(N-1)/N G; reduce-scatter and all-gather (N-1)/N G each; stage 2 reduce-scatters once per
# micro-batch).
#   bench/distributed/zero_stages.sh [STEPS] [BUCKET_MB]   (build/bin must hold dpo-train and dpo-data;
#                                                          BUCKET_MB: distributed.bucket_mb, default 25)
set -euo pipefail
source "$(dirname "$0")/common.sh"
steps=${1:-10}
bucket_mb=${2:-25}
ranks=2
micro_batches=2
bench_setup zero-stages "$steps" "per_device_batch_size: 4, gradient_accumulation_steps: $micro_batches"

params=$("$bin/dpo-train" --config "$work/job.yaml" --dry-run | grep -o '[0-9][0-9]* parameters' | grep -o '[0-9]*')
for round in 1 2; do
  for stage in 0 2 1; do
    mpirun -np $ranks --bind-to none "${root_flags[@]}" -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
      "$bin/dpo-train" --config "$work/job.yaml" --set output.dir="$work/stage$stage-$round" \
      --set distributed.zero_stage=$stage --set distributed.bucket_mb="$bucket_mb" >"$work/stage$stage-$round.log" 2>&1
  done
done

median_pairs() { median 'pairs/s' "$work/stage$1-1/metrics.jsonl" "$work/stage$1-2/metrics.jsonl"; }  # both runs
memory() { grep -o 'holds [0-9]* bytes of AdamW state and [0-9]* bytes of gradients' "$work/stage$1-1.log"; }

gradient=$((params * 4))
echo "ZeRO stages, $ranks ranks x 1 thread, $params parameters (G = $gradient bytes), $micro_batches micro-batches of 4 pairs per rank, $bucket_mb MiB buckets, median of steps 2..$steps over 2 runs"
base=$(median_pairs 0)
for stage in 0 1 2; do
  pairs=$(median_pairs $stage)
  case $stage in
    0) sent=$((2 * (ranks - 1) * gradient / ranks)) ;;
    1) sent=$((3 * (ranks - 1) * gradient / ranks)) ;;
    2) sent=$(((micro_batches + 1) * (ranks - 1) * gradient / ranks)) ;;
  esac
  printf '  stage %d: %7.2f pairs/s  %.3fx stage 0  rank 0 %s  sends %d bytes/step\n' \
    "$stage" "$pairs" "$(echo "$pairs / $base" | bc -l)" "$(memory $stage)" "$sent"
done
