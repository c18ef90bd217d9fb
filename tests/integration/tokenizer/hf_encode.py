#!/usr/bin/env python3
"""Encodes a corpus (one JSON string per line) with Hugging Face `tokenizers` (the Rust
library behind transformers' fast tokenizers) and writes the ids of every line, one JSON array
a line, in corpus order: once with add_special_tokens=False and once with add_special_tokens=True
(the tokenizer.json's post-processor applied, e.g. a BOS prepended).

    python hf_encode.py TOKENIZER_JSON CORPUS.jsonl OUT_PLAIN.jsonl OUT_SPECIAL.jsonl

TOKENIZER_JSON is a tokenizer.json file or the directory holding it, loaded with
tokenizers.Tokenizer.from_file as it is (no transformers wrapper, no tokenizer_config.json).
"""
import json
import os
import sys

from tokenizers import Tokenizer


def read_corpus(path):
    """The corpus lines, parsed; blank lines are skipped as the C++ readers do."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_ids(path, encodings):
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for encoding in encodings:
            out.write(json.dumps(encoding.ids, separators=(",", ":")) + "\n")


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    tokenizer_path, corpus_path, plain_path, special_path = argv[1:]
    if os.path.isdir(tokenizer_path):
        tokenizer_path = os.path.join(tokenizer_path, "tokenizer.json")
    tokenizer = Tokenizer.from_file(tokenizer_path)
    texts = read_corpus(corpus_path)
    write_ids(plain_path, tokenizer.encode_batch(texts, add_special_tokens=False))
    write_ids(special_path, tokenizer.encode_batch(texts, add_special_tokens=True))
    print(json.dumps({"tokenizer": tokenizer_path, "lines": len(texts)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
