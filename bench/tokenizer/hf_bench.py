#!/usr/bin/env python3
"""Encoding speed of Hugging Face `tokenizers` (Rust) on a corpus (one JSON string per line), on
one thread, best of N timed passes, printed as one JSON line:

    python hf_bench.py TOKENIZER_JSON CORPUS.jsonl [--passes N]

It times two ways of calling the same Rust encoder, both with add_special_tokens=False (as
dpo-bench-tokenizer encodes): `batch`, encode_batch_fast over the whole corpus (the Rust loop,
no offsets), and `per_call`, Tokenizer.encode line by line from Python (adds the Python call per
line). One thread: RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false are set here before
`tokenizers` is imported, whatever the caller's environment says.
"""
import argparse
import json
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402  (after the thread settings)
from tokenizers import Tokenizer  # noqa: E402


def read_corpus(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def best_of(passes, encode_all):
    """(best seconds, token count) of `passes` timed calls of encode_all() -> token count."""
    best, tokens = float("inf"), 0
    for _ in range(passes):
        start = time.perf_counter()
        tokens = encode_all()
        best = min(best, time.perf_counter() - start)
    return best, tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tokenizer")
    parser.add_argument("corpus")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    path = os.path.join(args.tokenizer, "tokenizer.json") if os.path.isdir(args.tokenizer) else args.tokenizer

    load_start = time.perf_counter()
    tokenizer = Tokenizer.from_file(path)
    load_seconds = time.perf_counter() - load_start
    texts = read_corpus(args.corpus)
    size = sum(len(text.encode("utf-8")) for text in texts)

    batch_seconds, batch_tokens = best_of(args.passes, lambda: sum(
        len(e.ids) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)))
    call_seconds, call_tokens = best_of(args.passes, lambda: sum(
        len(tokenizer.encode(text, add_special_tokens=False).ids) for text in texts))
    if batch_tokens != call_tokens:
        raise RuntimeError("encode_batch_fast and encode disagree: %d vs %d tokens" % (batch_tokens, call_tokens))
    print(json.dumps({
        "encoder": "tokenizers " + tokenizers.__version__, "tokenizer": path, "lines": len(texts), "bytes": size,
        "tokens": batch_tokens, "threads": 1, "load_seconds": load_seconds,
        "seconds": batch_seconds, "mb_per_second": size / 1e6 / batch_seconds,
        "per_call_seconds": call_seconds, "per_call_mb_per_second": size / 1e6 / call_seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
