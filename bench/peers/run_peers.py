#!/usr/bin/env python3
"""One DPO training step, side by side on the CPU: dpo-cluster (dpo-bench-step), TRL's DPOTrainer,
and a plain eager PyTorch loop (eager_steps below), on the same shapes, data and LibTorch.

Every tool runs the same step: 2B sequences of T = prompt + completion tokens through the policy
(forward and backward), the reference forward (online) or a precomputed table, the sigmoid DPO
loss, one AdamW update. Shapes: GPT-2 ~10M (width 384, 6 layers, byte vocabulary, 8 pairs,
T = 32 + 96) and GPT-2 124M (T = 128 + 384; 2 pairs, the CPU's budget). Each tool is timed over
--steps steps after --warmup, and reports the median; with --rounds R the tools take turns R
times and the median of the rounds is kept. Also measured: the fp32 GEMM peak (best of 5,
1024^3) at each thread count, which dpo-bench-step reports its MFU against.

Usage: .venv/bin/python bench/peers/run_peers.py [--bench-step build/bin/dpo-bench-step]
           [--shapes 10m,124m] [--threads 1,2] [--steps 5] [--warmup 2] [--rounds 1] [--json FILE]
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

SHAPES = {
    # name: (dpo-bench-step arguments, the run's shape name in its JSON, GPT-2 config, pairs, prompt, completion)
    "10m": (["--shape", "cpu"], "~10M", dict(n_embd=384, n_layer=6, n_head=6, vocab_size=259, n_positions=128), 8, 32, 96),
    "124m": (["--shape", "gpt2-124m", "--pairs", "2", "--prompt-tokens", "128", "--completion-tokens", "384"],
             "gpt2-124m", dict(n_embd=768, n_layer=12, n_head=12, vocab_size=50257, n_positions=1024), 2, 128, 384),
}
BETA = 0.1


def gpt2(config_fields):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **config_fields)
    torch.manual_seed(1)
    return GPT2LMHeadModel(config).float()


def synthetic_pairs(vocab, pairs, prompt, completion):
    generator = torch.Generator().manual_seed(1234)
    ids = lambda n: torch.randint(0, vocab - 2, (n,), generator=generator).tolist()
    rows = []
    for _ in range(pairs):
        rows.append({"prompt_ids": [vocab - 1] + ids(prompt - 1), "chosen_ids": ids(completion),
                     "rejected_ids": ids(completion)})
    return rows


def gemm_peak(threads):
    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * 1024**3 / best


def eager_steps(config_fields, rows, threads, precompute, steps, warmup):
    """The plain loop: whole-vocabulary log-softmax, gather, the sigmoid loss, torch.optim.AdamW."""
    torch.set_num_threads(threads)
    policy = gpt2(config_fields).train()
    reference = copy.deepcopy(policy).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    ids = torch.tensor([r["prompt_ids"] + r["chosen_ids"] for r in rows] +
                       [r["prompt_ids"] + r["rejected_ids"] for r in rows])  # (2B, T)
    prompt = len(rows[0]["prompt_ids"])
    completion = torch.zeros_like(ids, dtype=torch.float32)
    completion[:, prompt:] = 1.0
    b = len(rows)

    def sequence_logps(model):  # (2B, T) -> (2B,)
        logits = model(input_ids=ids).logits[:, :-1]
        token_logps = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        return (token_logps * completion[:, 1:]).sum(-1)

    table = None
    if precompute:
        with torch.no_grad():
            table = sequence_logps(reference)
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        logps = sequence_logps(policy)
        if table is None:
            with torch.no_grad():
                reference_logps = sequence_logps(reference)
        else:
            reference_logps = table
        ratios = logps - reference_logps
        loss = -F.logsigmoid(BETA * (ratios[:b] - ratios[b:])).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def trl_steps(config_fields, rows, threads, precompute, steps, warmup):
    from datasets import Dataset
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    class PreTokenizedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.started, self.times = 0.0, []

        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter() - self.started)

    torch.set_num_threads(threads)
    vocab = config_fields["vocab_size"]
    tokens = {f"t{i}": i for i in range(vocab)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(tokens, unk_token="t0")),
                                        eos_token=f"t{vocab - 2}", pad_token=f"t{vocab - 2}")
    timer = StepTimes()
    with tempfile.TemporaryDirectory() as output:
        config = DPOConfig(output_dir=output, per_device_train_batch_size=len(rows), max_steps=warmup + steps,
                           learning_rate=1e-5, beta=BETA, loss_type=["sigmoid"], max_length=None,
                           precompute_ref_log_probs=precompute, logging_steps=10**6, save_strategy="no", report_to=[],
                           use_cpu=True, bf16=False, fp16=False, dataloader_num_workers=0, disable_tqdm=True, seed=0)
        policy = gpt2(config_fields)
        # A model built in memory: TRL would otherwise load the reference from the policy's hub id.
        trainer = PreTokenizedDPOTrainer(model=policy, ref_model=copy.deepcopy(policy).eval(), args=config,
                                         train_dataset=Dataset.from_list(rows * (warmup + steps)),
                                         processing_class=tokenizer, callbacks=[timer])
        trainer.train()
    return statistics.median(timer.times[warmup:])


def bench_step_runs(binary, arguments, threads, steps):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        environment = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        subprocess.run([binary, "--threads", str(threads), "--steps", str(steps), "--json", out.name, *arguments],
                       check=True, env=environment, stdout=subprocess.DEVNULL)
        return json.load(open(out.name))["runs"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench-step", default="build/bin/dpo-bench-step")
    parser.add_argument("--shapes", default="10m,124m")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()

    results = []
    print(f"torch {torch.__version__}, {os.cpu_count()} cores; pairs/s (higher is better), median step")
    print(f"{'shape':8} {'thr':>3} {'reference':11} {'dpo-cluster':>11} {'eager':>9} {'TRL':>9} "
          f"{'vs eager':>9} {'vs TRL':>8} {'MFU (GEMM)':>10}")
    for shape in args.shapes.split(","):
        arguments, run_name, fields, pairs, prompt, completion = SHAPES[shape]
        rows = synthetic_pairs(fields["vocab_size"], pairs, prompt, completion)
        for threads in [int(t) for t in args.threads.split(",")]:
            peak = gemm_peak(threads)
            rounds = {mode: {"dpo-cluster": [], "eager": [], "trl": [], "mfu": []} for mode in ("online", "precomputed")}
            for _ in range(args.rounds):
                for run in bench_step_runs(args.bench_step, arguments, threads, args.steps):
                    if run["shape"] == run_name:
                        rounds[run["reference"]]["dpo-cluster"].append(run["step_seconds"])
                        rounds[run["reference"]]["mfu"].append(run["mfu_vs_gemm"])
                for mode in rounds:
                    precompute = mode == "precomputed"
                    rounds[mode]["eager"].append(eager_steps(fields, rows, threads, precompute, args.steps, args.warmup))
                    rounds[mode]["trl"].append(trl_steps(fields, rows, threads, precompute, args.steps, args.warmup))
            for mode, times in rounds.items():
                ours, eager, trl = (statistics.median(times[key]) for key in ("dpo-cluster", "eager", "trl"))
                result = {"shape": shape, "threads": threads, "reference": mode, "pairs": pairs, "T": prompt + completion,
                          "gemm_gflops": peak / 1e9, "seconds": {"dpo-cluster": ours, "eager": eager, "trl": trl},
                          "pairs_per_second": {"dpo-cluster": pairs / ours, "eager": pairs / eager, "trl": pairs / trl},
                          "dpo_cluster_vs_eager": eager / ours, "dpo_cluster_vs_trl": trl / ours,
                          "mfu_vs_gemm": statistics.median(times["mfu"])}
                results.append(result)
                print(f"{shape:8} {threads:>3} {mode:11} {pairs / ours:11.2f} {pairs / eager:9.2f} {pairs / trl:9.2f} "
                      f"{eager / ours:8.2f}x {trl / ours:7.2f}x {result['mfu_vs_gemm']:10.2f}   "
                      f"(GEMM {peak / 1e9:.0f} GFLOP/s)", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
