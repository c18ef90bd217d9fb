#!/usr/bin/env python3
"""Trajectory parity with TRL: dpo-train and trl.DPOTrainer, run from the same model directory,
data and hyperparameters, agree at every step and in the final weights.

One run per (model, case): a random model written by transformers (GPT-2, or Llama with grouped-
query attention), eight pre-tokenised pairs (byte ids: 256 BOS, 257 EOS, 258 pad), 20 optimizer
steps of the whole data set (4 pairs per micro-batch x 2 accumulation steps = 8 pairs: every step
sees every pair, so both tools' data order is the same whatever their samplers do), warm-up then
linear decay, gradient clipping, AdamW with weight decay. Every step's loss, rewards/*, logps/* and grad_norm
must agree within RELATIVE_TOLERANCE, and the final weights within WEIGHT_TOLERANCE.

TRL tokenises text itself; here both tools get the same token ids, so TRL's dataset preparation is
skipped (PreTokenizedDPOTrainer) and what is compared is the training itself.

Usage: trl_parity_test.py DPO_TRAIN WORK_DIR MODEL CASE   (MODEL: gpt2 | llama; CASE: see CASES)
Run with the project's .venv python (torch, transformers, trl, safetensors).
"""
import json
import os
import pathlib
import random
import subprocess
import sys

import torch
from datasets import Dataset
from safetensors.torch import load_file
from tokenizers import Tokenizer, models
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from trl import DPOConfig, DPOTrainer

BOS, EOS, PAD, VOCAB = 256, 257, 258, 259
STEPS = 20
RELATIVE_TOLERANCE = 1e-4
# Float32 sums in another order (micro-batch split, GEMM blocking) over 20 AdamW steps.
WEIGHT_TOLERANCE = 1e-5

# Per case: dpo-train's training/reference keys, and the same settings as TRL's DPOConfig fields.
# rpo_alpha has no DPOConfig field in TRL 1.16: its equivalent there is the loss mix
# [sigmoid, sft] with weights [1, rpo_alpha] (the chosen completions' token-mean NLL).
CASES = {
    "sigmoid": ({"loss_type": "[sigmoid]"}, {"loss_type": ["sigmoid"]}),
    "ipo": ({"loss_type": "[ipo]"}, {"loss_type": ["ipo"]}),
    "hinge": ({"loss_type": "[hinge]"}, {"loss_type": ["hinge"]}),
    "robust": ({"loss_type": "[robust]", "label_smoothing": "0.2"}, {"loss_type": ["robust"], "label_smoothing": 0.2}),
    "apo_zero": ({"loss_type": "[apo_zero]"}, {"loss_type": ["apo_zero"]}),
    "bco_pair": ({"loss_type": "[bco_pair]"}, {"loss_type": ["bco_pair"]}),
    "mix": ({"loss_type": "[sigmoid, bco_pair]", "loss_weights": "[0.7, 0.3]"},
            {"loss_type": ["sigmoid", "bco_pair"], "loss_weights": [0.7, 0.3]}),
    "rpo_alpha": ({"loss_type": "[sigmoid]", "rpo_alpha": "0.5"}, {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.5]}),
    "precompute": ({"loss_type": "[sigmoid]", "reference.precompute": "true"},
                   {"loss_type": ["sigmoid"], "precompute_ref_log_probs": True}),
}
# Compared at every step (TRL's names; dpo-train logs the same keys).
KEYS = ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen",
        "logps/rejected", "grad_norm"]
HYPERPARAMETERS = {"beta": 0.1, "learning_rate": 2e-3, "warmup_steps": 3, "max_grad_norm": 0.5,
                   "adam_beta1": 0.9, "adam_beta2": 0.99, "adam_epsilon": 1e-6, "weight_decay": 0.05}


def write_model(kind, directory):
    torch.manual_seed(1234)
    if kind == "gpt2":
        config = GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=64, n_layer=2, n_head=4, resid_pdrop=0.0,
                            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=BOS, eos_token_id=EOS)
        model = GPT2LMHeadModel(config)
    else:
        config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                             bos_token_id=BOS, eos_token_id=EOS, tie_word_embeddings=False)
        model = LlamaForCausalLM(config)
    model.save_pretrained(directory, safe_serialization=True)


def write_pairs(path):
    """Eight pairs. Every chosen completion has the same length, so a token mean over any micro-batch
    (TRL's sft term) equals the mean over the whole step (dpo-train's rpo_alpha term)."""
    rng = random.Random(7)
    rows = []
    for i in range(8):
        prompt = [BOS] + [rng.randrange(0, 256) for _ in range(4 + i % 4)]
        chosen = [rng.randrange(0, 256) for _ in range(6)] + [EOS]
        rejected = [rng.randrange(0, 256) for _ in range(3 + i % 5)] + [EOS]
        rows.append({"prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def byte_tokenizer():
    vocab = {f"b{i}": i for i in range(256)}
    vocab.update({"<bos>": BOS, "<eos>": EOS, "<pad>": PAD})
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<pad>")),
                                   bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


def run_dpo_train(dpo_train, model_dir, data, out, training):
    h = HYPERPARAMETERS
    job = out.parent / f"{out.name}.yaml"
    job.write_text(
        f"model:\n  init: {model_dir}\ntokenizer:\n  type: byte\n"
        f"data:\n  train: {data}\n  max_length: 64\n  max_prompt_length: 32\n"
        f"training:\n  beta: {h['beta']}\n  learning_rate: {h['learning_rate']}\n  max_steps: {STEPS}\n"
        f"  per_device_batch_size: 4\n  gradient_accumulation_steps: 2\n  max_grad_norm: {h['max_grad_norm']}\n"
        f"  warmup_steps: {h['warmup_steps']}\n  lr_scheduler: linear\n  adam_beta1: {h['adam_beta1']}\n"
        f"  adam_beta2: {h['adam_beta2']}\n  adam_epsilon: {h['adam_epsilon']}\n  weight_decay: {h['weight_decay']}\n"
        f"  threads: 1\n  logging_steps: 1\n"
        f"output:\n  dir: {out}\n  save_dtype: float32\n  resume: never\n  overwrite: true\nmetrics:\n  progress: never\n")
    command = [dpo_train, "--config", str(job)]
    for key, value in training.items():
        command += ["--set", (key if "." in key else "training." + key) + "=" + value]
    environment = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise AssertionError(f"dpo-train failed ({result.returncode}):\n{result.stderr}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line]
    steps = [record for record in records if "loss" in record]
    return steps, load_file(str(out / "final" / "model.safetensors"))


class PreTokenizedDPOTrainer(DPOTrainer):
    """DPOTrainer on rows that already hold prompt_ids, chosen_ids and rejected_ids."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


def run_trl(model_dir, rows, out, settings):
    from transformers import AutoModelForCausalLM, TrainerCallback

    torch.set_num_threads(1)
    steps = []

    class Collect(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                steps.append(dict(logs, step=state.global_step))

    h = HYPERPARAMETERS
    config = DPOConfig(
        output_dir=str(out), per_device_train_batch_size=4, gradient_accumulation_steps=2, max_steps=STEPS,
        learning_rate=h["learning_rate"], lr_scheduler_type="linear", warmup_steps=h["warmup_steps"],
        max_grad_norm=h["max_grad_norm"], adam_beta1=h["adam_beta1"], adam_beta2=h["adam_beta2"],
        adam_epsilon=h["adam_epsilon"], weight_decay=h["weight_decay"], optim="adamw_torch", beta=h["beta"], max_length=64,
        logging_steps=1, save_strategy="no", report_to=[], seed=42, use_cpu=True, dataloader_num_workers=0,
        bf16=False, fp16=False, **settings)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    trainer = PreTokenizedDPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                                     processing_class=byte_tokenizer(), callbacks=[Collect()])
    trainer.train()
    weights = {name: tensor.detach().clone() for name, tensor in trainer.model.state_dict().items()}
    return steps, weights


def relative(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-8)


def main(argv):
    dpo_train, work, kind, case = argv[1], pathlib.Path(argv[2]), argv[3], argv[4]
    training, settings = CASES[case]
    work.mkdir(parents=True, exist_ok=True)
    model_dir = work / f"model-{kind}"
    if not (model_dir / "config.json").exists():
        write_model(kind, model_dir)
    data = work / "pairs.jsonl"
    rows = write_pairs(data)

    ours, our_weights = run_dpo_train(dpo_train, model_dir, data, work / f"dpo-{kind}-{case}", training)
    theirs, their_weights = run_trl(str(model_dir), rows, work / f"trl-{kind}-{case}", settings)

    problems = []
    if len(ours) != STEPS or len(theirs) != STEPS:
        problems.append(f"steps logged: dpo-train {len(ours)}, TRL {len(theirs)}, expected {STEPS}")
    worst = {key: 0.0 for key in KEYS}
    for step, (a, b) in enumerate(zip(ours, theirs), 1):
        for key in KEYS:
            error = relative(a[key], b[key])
            worst[key] = max(worst[key], error)
            if not error <= RELATIVE_TOLERANCE:
                problems.append(f"step {step} {key}: dpo-train {a[key]!r}, TRL {b[key]!r} (relative {error:.2e})")
    # Tied embeddings: TRL's state dict also holds lm_head.weight; the saved model holds it once.
    names = sorted(set(our_weights) & set(their_weights))
    if len(names) != len(our_weights):
        problems.append(f"weights only in dpo-train's model: {sorted(set(our_weights) - set(their_weights))}")
    weight_error = 0.0
    for name in names:
        difference = (our_weights[name].float() - their_weights[name].float()).abs().max().item()
        weight_error = max(weight_error, difference)
    if not weight_error <= WEIGHT_TOLERANCE:
        problems.append(f"final weights differ by up to {weight_error:.2e} (tolerance {WEIGHT_TOLERANCE:.0e})")
    initial = load_file(str(model_dir / "model.safetensors"))
    moved = max((their_weights[n].float() - initial[n].float()).abs().max().item() for n in names if n in initial)
    if not moved > 100 * WEIGHT_TOLERANCE:
        problems.append(f"training barely moved the weights ({moved:.2e}): the comparison would prove nothing")
    print(f"{kind}/{case}: {len(ours)} steps; worst relative error " +
          ", ".join(f"{key} {value:.1e}" for key, value in worst.items()) +
          f"; final weights max |difference| {weight_error:.1e} (moved {moved:.1e})")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
