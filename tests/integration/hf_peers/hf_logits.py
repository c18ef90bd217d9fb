#!/usr/bin/env python3
"""Logits of a Hugging Face model directory as transformers computes them: the peer that checks
that a directory written by dpo-cluster is a checkpoint transformers loads and runs unchanged.

usage: hf_logits.py MODEL_DIR INPUTS.safetensors OUT.safetensors

Reads `input_ids` (I64, (N, T)) from INPUTS, loads MODEL_DIR with
`AutoModelForCausalLM.from_pretrained` in float64 with eager attention, in eval mode, and writes
`logits` (F32, (N, T, V), computed in float64 and rounded) to OUT. Any tensor the model expects
but the directory lacks, or the directory holds but the model does not use, or holds in another
shape, is an error (exit 1, the message on stderr): transformers would otherwise initialise it
at random and the logits would still come out. Prints the model class to stdout.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory; never the network

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402


def load_model(model_dir):
    """The float64 eval-mode model of `model_dir`; raises ValueError on a loading problem."""
    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float64, attn_implementation="eager", output_loading_info=True)
    problems = {key: value for key, value in info.items() if value}
    if problems:
        raise ValueError("%s: transformers did not load every tensor: %s" % (model_dir, problems))
    return model.eval()


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    model_dir, inputs_path, out_path = argv[1:]
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    input_ids = load_file(inputs_path)["input_ids"]
    if input_ids.dtype != torch.int64 or input_ids.dim() != 2:
        raise ValueError("%s: input_ids must be I64 of shape (N, T), found %s %s"
                         % (inputs_path, input_ids.dtype, tuple(input_ids.shape)))
    model = load_model(model_dir)
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
    save_file({"logits": logits.to(torch.float32).contiguous()}, out_path)
    print("%s: %s, logits %s" % (model_dir, type(model).__name__, tuple(logits.shape)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as error:  # one line naming the problem, for the calling test's message
        sys.stderr.write("hf_logits.py: %s: %s\n" % (type(error).__name__, error))
        sys.exit(1)
