#!/usr/bin/env python3
"""Chat-template renderings of conversations as transformers produces them, called the way TRL's
DPO trainer calls them: the peer of dpo-cluster's built-in chat templates.

usage: hf_chat_template.py TOKENIZER_DIR CONVERSATIONS.jsonl OUT.jsonl

TOKENIZER_DIR holds tokenizer.json and tokenizer_config.json (with its chat_template), loaded with
`AutoTokenizer.from_pretrained`. Each line of CONVERSATIONS is
    {"prompt": [{"role", "content"}, ...], "completion": {"role": "assistant", "content"}}
and gives one line of OUT, in the same order:
    {"prompt_text": str, "prompt_ids": [int],   # apply_chat_template(prompt,
                                                 #   add_generation_prompt=True)
     "full_text": str, "full_ids": [int]}       # apply_chat_template(prompt + [completion])
text with tokenize=False, ids with tokenize=True (the template's own special tokens, no BOS
added on top). When transformers refuses a conversation (a tokenizer without a chat template,
a template that raises) the line is {"error": "<exception type>: <message>"} instead.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory; never the network

import transformers  # noqa: E402


def render(tokenizer, prompt, completion):
    """The four renderings of one conversation (see the module docstring)."""
    full = prompt + [completion]
    return {
        "prompt_text": tokenizer.apply_chat_template(prompt, tokenize=False,
                                                     add_generation_prompt=True),
        "prompt_ids": list(tokenizer.apply_chat_template(prompt, tokenize=True,
                                                         add_generation_prompt=True)["input_ids"]),
        "full_text": tokenizer.apply_chat_template(full, tokenize=False),
        "full_ids": list(tokenizer.apply_chat_template(full, tokenize=True)["input_ids"]),
    }


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    tokenizer_dir, conversations_path, out_path = argv[1:]
    transformers.utils.logging.set_verbosity_error()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
    rendered = 0
    with open(conversations_path, encoding="utf-8") as source, \
            open(out_path, "w", encoding="utf-8") as out:
        for line in source:
            conversation = json.loads(line)
            try:
                result = render(tokenizer, conversation["prompt"], conversation["completion"])
                rendered += 1
            except Exception as error:  # the refusal is the result
                result = {"error": "%s: %s" % (type(error).__name__, error)}
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    print("%s: %s, %d conversations rendered" % (tokenizer_dir, type(tokenizer).__name__, rendered))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
