#!/usr/bin/env python3
"""Builds an HF-layout GPT-2 tokenizer (tokenizer.json + tokenizer_config.json) from OpenAI's
original GPT-2 files, encoder.json and vocab.bpe, with Hugging Face `tokenizers` itself
(models.BPE, a ByteLevel pre-tokenizer, post-processor and decoder), so the file is HF's
serialisation, not this project's.

    python gpt2_tokenizer_json.py GPT2_DIR OUT_DIR [--merges strings|pairs]
                                  [--split bytelevel|sequence] [--chatml]

GPT2_DIR holds encoder.json and vocab.bpe (e.g. shared/tokenizers/gpt2).
--merges strings (default) writes the merges as "a b" strings, the layout of HF's gpt2 hub
  file; pairs writes ["a", "b"] pairs, as tokenizers >= 0.20 and the Llama 3 / Qwen2 files do.
--split bytelevel (default) lets ByteLevel split with GPT-2's regex (HF's gpt2 layout);
  sequence puts that regex in a Split step before ByteLevel(use_regex=false), as Llama 3 and
  Qwen2 files do.
--chatml adds <|im_start|> and <|im_end|> as special tokens (ids 50257 and 50258) and a ChatML
  chat_template to tokenizer_config.json, as chat fine-tunes of GPT-2 do.
"""
import argparse
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
END_OF_TEXT = "<|endoftext|>"
CHATML_TOKENS = ["<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def read_gpt2_files(directory):
    """encoder.json's vocabulary and vocab.bpe's merges (a version line, one "a b" merge a
    line, a final empty line) as (left, right) pairs in rank order."""
    with open(os.path.join(directory, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(directory, "vocab.bpe"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    if not lines[0].startswith("#version") or lines[-1] != "":
        raise ValueError("vocab.bpe: expected a #version line first and a final newline")
    merges = []
    for number, line in enumerate(lines[1:-1], start=2):
        parts = line.split(" ")
        if len(parts) != 2:
            raise ValueError("vocab.bpe:%d: bad merge line %r" % (number, line))
        merges.append((parts[0], parts[1]))
    return vocab, merges


def build_tokenizer(vocab, merges, split, chatml):
    """The GPT-2 tokenizer as HF's gpt2 hub file defines it, built with `tokenizers`."""
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, dropout=None, unk_token=None,
                                     continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False,
                                     byte_fallback=False))
    if split == "bytelevel":
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tokenizer.add_special_tokens([AddedToken(END_OF_TEXT, special=True, normalized=True)])
    if tokenizer.token_to_id(END_OF_TEXT) != vocab[END_OF_TEXT]:
        raise ValueError("%s did not keep its encoder.json id %d" % (END_OF_TEXT, vocab[END_OF_TEXT]))
    if chatml:
        first_new_id = tokenizer.get_vocab_size()
        tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in CHATML_TOKENS])
        ids = [tokenizer.token_to_id(t) for t in CHATML_TOKENS]
        if ids != [first_new_id, first_new_id + 1]:
            raise ValueError("ChatML tokens got ids %s, expected %d and %d" % (ids, first_new_id, first_new_id + 1))
    return tokenizer


def with_merge_strings(tokenizer_json):
    """The serialised tokenizer with its merges rewritten as "a b" strings (HF reads both)."""
    document = json.loads(tokenizer_json)
    merges = document["model"]["merges"]
    if any(" " in part for merge in merges for part in merge):
        raise ValueError("a merge part holds a space: it cannot be written as an \"a b\" string")
    document["model"]["merges"] = [" ".join(merge) for merge in merges]
    return json.dumps(document, ensure_ascii=False)


def tokenizer_config(chatml):
    config = {"bos_token": END_OF_TEXT, "eos_token": END_OF_TEXT, "unk_token": END_OF_TEXT,
              "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer"}
    if chatml:
        config["chat_template"] = CHATML_TEMPLATE
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gpt2_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--merges", choices=["strings", "pairs"], default="strings")
    parser.add_argument("--split", choices=["bytelevel", "sequence"], default="bytelevel")
    parser.add_argument("--chatml", action="store_true")
    args = parser.parse_args()

    vocab, merges = read_gpt2_files(args.gpt2_dir)
    tokenizer = build_tokenizer(vocab, merges, args.split, args.chatml)
    serialised = tokenizer.to_str()
    if args.merges == "strings":
        serialised = with_merge_strings(serialised)
    # The file must read back as the same tokenizer (HF accepts either merge layout).
    reread = Tokenizer.from_str(serialised)
    probe = "Hello, world! It's 2024 \u00e9t\u00e9 \U0001F600" + END_OF_TEXT + "".join(CHATML_TOKENS if args.chatml else [])
    if reread.encode(probe).ids != tokenizer.encode(probe).ids:
        raise ValueError("the written tokenizer.json does not encode as the tokenizer it was written from")

    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "tokenizer.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(serialised)
    with open(os.path.join(args.out_dir, "tokenizer_config.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(tokenizer_config(args.chatml), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
