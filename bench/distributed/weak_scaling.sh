#!/usr/bin/env bash
# Weak scaling of data-parallel DPO on this machine: 1 rank x 1 thread vs 2 ranks x 1 thread,
# the same per-rank batch, a ~10M-parameter GPT-2-shaped model. Reports the median pairs/s of
# each (steps after the first), their ratio (ideal 2.0), and the share of the 2-rank step time
# spent waiting for the gradient all-reduce (metrics.jsonl: time/grad_sync_s / time/step_s),
# with the all-reduce after backward and overlapped with it (distributed.overlap).
#   bench/distributed/weak_scaling.sh [STEPS]        (build/bin must hold dpo-train and dpo-data)
set -euo pipefail
source "$(dirname "$0")/common.sh"
steps=${1:-8}
bench_setup weak-scaling "$steps" "per_device_batch_size: 8"

params=$("$bin/dpo-train" --config "$work/job.yaml" --dry-run | grep -o '[0-9][0-9]* parameters')
"$bin/dpo-train" --config "$work/job.yaml" --set output.dir="$work/one" >"$work/one.log" 2>&1
for overlap in false true; do
  mpirun -np 2 --bind-to none "${root_flags[@]}" -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
    "$bin/dpo-train" --config "$work/job.yaml" --set output.dir="$work/two-$overlap" \
    --set distributed.overlap=$overlap >"$work/two-$overlap.log" 2>&1
done

one=$(median 'pairs/s' "$work/one/metrics.jsonl")
echo "weak scaling, per-rank batch 8 pairs, 1 thread per rank, $params, median of steps 2..$steps"
printf '  1 rank :                 %8.2f pairs/s\n' "$one"
for overlap in false true; do
  metrics="$work/two-$overlap/metrics.jsonl"
  two=$(median 'pairs/s' "$metrics")
  step=$(median 'time/step_s' "$metrics")
  sync=$(median 'time/grad_sync_s' "$metrics")
  printf '  2 ranks, overlap %-5s: %8.2f pairs/s  ratio %.2f  step %.3f s, waiting for the all-reduce %.3f s = %.1f%%\n' \
    "$overlap" "$two" "$(echo "$two / $one" | bc -l)" "$step" "$sync" "$(echo "100 * $sync / $step" | bc -l)"
done
