#!/usr/bin/env python3
"""Writes a deterministic tokenizer test corpus: one JSON string per line (so a sample may hold
newlines), mixing ASCII prose, contractions, accents (precomposed and combining), CJK, emoji
sequences, digits and number runs, whitespace runs, control characters, code, other scripts,
long lines and strings that look like special tokens. The same arguments give the same file on
every machine and Python version (SplitMix64, no `random`).

    python make_corpus.py OUT.jsonl [--lines N] [--seed S] [--specials-from TOKENIZER_JSON]

--specials-from: a tokenizer.json whose added tokens are sprinkled into some lines (8%), next
to near misses of them (cut, doubled, respelled) in others. Standard library only.
"""
import argparse
import json
import sys

MASK64 = (1 << 64) - 1


class SplitMix64:
    """SplitMix64 (Steele, Lea, Flood 2014): the same stream everywhere."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def pick(self, items):
        return items[self.below(len(items))]

    def chance(self, p):
        return self.below(1000000) < p * 1000000

    def char(self, lo, hi):
        return chr(lo + self.below(hi - lo + 1))

    def repeat(self, n, make):
        return "".join(make() for _ in range(n))


WORDS = (
    "the of and to in is was for on that with as by at from it his an were are which this be has had "
    "not they you have one their also first but or new two can after who more other time people years all when "
    "model token train data learning preference reward policy gradient batch rank server cache merge byte split "
    "Hello World Alice Bob London Paris NASA GPT Llama Qwen Transformer DPO OpenAI JSON HTTP TCP UTF").split()
CONTRACTIONS = [
    "it's", "I'm", "they're", "we've", "you'll", "he'd", "can't", "won't", "don't", "isn't", "IT'S", "I'M",
    "THEY'RE", "We'Ve", "You'LL", "she'D", "o'clock", "rock'n'roll", "'tis", "y'all", "ma'am", "the cat's",
    "James's", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "''", "'", "it\u2019s", "don\u2019t", "'S", "'T",
    "'RE", "'Ll", "x's'", "'s's"]
ACCENTED = [
    "caf\u00e9", "na\u00efve", "r\u00e9sum\u00e9", "M\u00fcnchen", "\u00fcber", "Stra\u00dfe", "ma\u00f1ana",
    "Espa\u00f1a", "fran\u00e7ais", "gar\u00e7on", "\u00e0 la", "S\u00e3o Paulo", "Ti\u1ebfng Vi\u1ec7t",
    "Ng\u01b0\u1eddi", "\u0141\u00f3d\u017a", "\u010cesk\u00fd", "d\u00e9j\u00e0 vu", "cre\u0300me",
    "nai\u0308ve", "e\u0301t\u00e9", "A\u030a", "\u00c5ngstr\u00f6m", "\u212b", "co\u00f6perate", "\u00efle",
    "\u0153uvre", "\ufb01ne", "\u1e9b\u0323", "q\u0307\u0323", "\u00c7a", "I\u0307stanbul", "\u01c4"]
SCRIPTS = [(0x0410, 0x044F), (0x0391, 0x03C9), (0x05D0, 0x05EA), (0x0627, 0x064A), (0x0905, 0x0939),
           (0x0E01, 0x0E2E), (0x10D0, 0x10F0), (0x0531, 0x0556), (0x0B85, 0x0B94), (0x1100, 0x1112)]
CJK = [(0x4E00, 0x9FA5), (0x3041, 0x3096), (0x30A1, 0x30FA), (0xAC00, 0xD7A3), (0x20000, 0x2A6D6)]
CJK_PUNCTUATION = ["\u3002", "\uff0c", "\u3001", "\uff01", "\uff1f", "\u300c", "\u300d", "\uff08", "\uff09",
                   "\u30fc", "\u3000", "\uff1a", "\u300a", "\u300b"]
EMOJI = [
    "\U0001F600", "\U0001F602", "\U0001F44D", "\U0001F44D\U0001F3FD", "\u2764\uFE0F",
    "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F1EB\U0001F1F7", "\U0001F1EF\U0001F1F5", "\U0001F680",
    "\U0001F525", "\u2728", "\U0001F916", "\U0001F9E0", "\u263A", "\U0001F3F3\uFE0F\u200D\U0001F308",
    "\U0001F469\u200D\U0001F4BB", "\u00a9", "\u2122", "\U0001F4A9", "1\uFE0F\u20E3", "\U0001F9D1\U0001F3FF\u200D\U0001F9B0"]
# Whitespace and its neighbours: U+0085 is White_Space, U+200B, U+FEFF and U+180E (the Mongolian
# vowel separator, no longer White_Space since Unicode 6.3, though PCRE2's own \s still matches
# it) are not.
SPACES = [" ", "  ", "   ", "    ", "\t", "\t\t", " \t ", "\u00a0", "\u3000", "\u2003", "\u2009", "\u202f", "\n",
          "\n\n", "\r\n", " \n ", "\n   ", "\u2028", "\u2029", "\v", "\f", "\r", "\u0085", "\u1680", "\u205f",
          "\u200b", "\ufeff", "\u180e", " \u180e", "\r\r\n", "  \n\n  "]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b", "\x1f", "\x7f", "\x80", "\x9f", "\u200e", "\u00ad"]
PUNCTUATION = [
    ".", ",", "!", "?", ";", ":", "...", "--", " - ", "(", ")", "\"", "[", "]", "{", "}", "/", "\\", "@", "#",
    "$", "%", "^", "&", "*", "+", "=", "<", ">", "|", "~", "`", "\u2014", "\u2026", "\u00bf", "\u00a1",
    "\u00ab", "\u00bb", "\u201c", "\u201d", "!!!", "?!", "<<", ">>", "</", "/>", "||", "<|"]
CODE = [
    "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}",
    "def encode(self, text: str) -> list[int]:\n    return [self.vocab[t] for t in text.split()]",
    "const x = {a: 1, \"b\": [2, 3], c: null};\nconsole.log(JSON.stringify(x));",
    "#include <vector>\nstd::vector<int64_t> ids{1, 2, 3};",
    "if x != None and y >= 10:\n\tprint(f\"{x!r} -> {y:08.3f}\")",
    "SELECT id, name FROM users WHERE age > 21 ORDER BY name DESC;",
    "  return a && b || !c ? x << 2 : y >> 3;  // bit twiddling",
    "<div class=\"row\"><span id='x'>&nbsp;&lt;tag&gt;</span></div>",
    "$ git commit -m \"Fix: handle \\r\\n\" && ./build.sh --jobs=4",
    "fn main() { let v: Vec<u8> = b\"bytes\".to_vec(); println!(\"{:?}\", v); }",
    "    \n\n        indented_after_blank_lines = True\n",
    "x=1;y=2;z=x+y*3-4/5%6**7",
    "https://example.com/path?query=a%20b&lang=en#frag",
    "user.name+tag@example.co.uk",
    "```python\nimport numpy as np\nnp.zeros((3, 4))\n```",
    "| col1 | col2 |\n|------|------|\n| 1.5  | -2e-3 |",
    "\tif (err != nil) {\n\t\treturn fmt.Errorf(\"read %s: %w\", path, err)\n\t}\n",
    "0x7fff_ffff 0b1010 1e-9 3.14159265358979 -0.0 1_000_000",
    "{\"role\": \"user\", \"content\": \"Hi!\"}\n{\"role\": \"assistant\", \"content\": \"Hello.\"}"]
# Strings shaped like special tokens of one family or another.
LOOKALIKES = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>",
    "<|end_header_id|>", "<s>", "</s>", "<unk>", "<pad>", "<bos>", "<eos>", "[INST]", "[/INST]", "<<SYS>>",
    "<start_of_turn>", "<end_of_turn>", "<think>", "</think>", "<tool_call>", "<|fim_prefix|>", "<|user|>",
    "<|assistant|>", "<|reserved_special_token_250|>", "<|reserved_special_token_999|>", "<|unknown|>", "<||>",
    "< |eot_id| >", "<|EOT_ID|>", "<|endoftext|", "|endoftext|>", "<mask>", "[CLS]", "[SEP]", "{{bos_token}}"]


class Corpus:
    """The line generators; `specials` are the exact added tokens of the tokenizer under test."""

    def __init__(self, rng, specials):
        self.r = rng
        self.specials = specials
        self.generators = [
            lambda: self.prose(3 + self.r.below(25)),
            self.contraction_line, self.accent_line, self.cjk_line, self.emoji_line, self.number_line,
            self.whitespace_line, self.code_line, self.script_line, self.ascii_noise_line, self.gap_line,
            self.mixed_line, self.digit_run_line, self.lookalike_line, self.control_line]

    def number(self):
        r = self.r
        kind = r.below(8)
        if kind == 0:
            return str(r.below(10))
        if kind == 1:
            return str(r.below(100000))
        if kind == 2:
            return str(r.below(1000000000)) + str(r.below(1000000000))
        if kind == 3:
            return "%.2f" % (r.below(20000) / 100 - 100)
        if kind == 4:
            return "%d-%02d-%02d" % (1900 + r.below(150), 1 + r.below(12), 1 + r.below(28))
        if kind == 5:
            return "+1 (%d) %d-%d" % (100 + r.below(900), 100 + r.below(900), 1000 + r.below(9000))
        if kind == 6:
            return "{:,}".format(r.below(10 ** 12))
        return r.char(0x0660, 0x0669) + r.char(0xFF10, 0xFF19) + "\u00bd\u2163" + r.char(0x0966, 0x096F) + "\u00b2"

    def word(self):
        return self.r.pick(WORDS).upper() if self.r.chance(0.15) else self.r.pick(WORDS)

    def prose(self, n):
        r = self.r
        out = []
        for i in range(n):
            if i > 0:
                out.append(" " if r.chance(0.9) else r.pick(SPACES))
            out.append(r.pick(CONTRACTIONS) if r.chance(0.1) else self.number() if r.chance(0.08) else self.word())
            if r.chance(0.12):
                out.append(r.pick(PUNCTUATION))
        return "".join(out)

    def contraction_line(self):
        r = self.r
        return self.prose(2 + r.below(6)) + " " + r.repeat(
            1 + r.below(4), lambda: r.pick(CONTRACTIONS) + r.pick([" ", "", "'", "s", "\n"]))

    def accent_line(self):
        r = self.r
        return r.repeat(2 + r.below(8), lambda: r.pick(ACCENTED) + r.pick([" ", ", ", ". ", ""]))

    def cjk_line(self):
        r = self.r
        return r.repeat(3 + r.below(30),
                        lambda: r.char(*r.pick(CJK)) + (r.pick(CJK_PUNCTUATION) if r.chance(0.2) else ""))

    def emoji_line(self):
        r = self.r
        return self.prose(2 + r.below(5)) + " " + r.repeat(
            1 + r.below(6), lambda: r.pick(EMOJI) + (" " if r.chance(0.5) else ""))

    def number_line(self):
        r = self.r
        return r.repeat(2 + r.below(8), lambda: self.number() + r.pick([" ", ", ", ".", "", " + ", "x", "%", "\n"]))

    def digit_run_line(self):
        r = self.r
        return r.repeat(1 + r.below(4), lambda: r.repeat(1 + r.below(40), lambda: r.char(0x30, 0x39)) +
                        r.pick([" ", "", "a", ".", ",", " 1", "\u0663"]))

    def whitespace_line(self):
        r = self.r
        return (r.pick(SPACES) + self.prose(1 + r.below(4)) + r.repeat(1 + r.below(4), lambda: r.pick(SPACES)) +
                self.prose(1 + r.below(3)) + r.pick(SPACES) * (1 + r.below(3)))

    def code_line(self):
        r = self.r
        return r.pick(CODE) + ("\n" + r.pick(CODE) if r.chance(0.5) else "")

    def script_line(self):
        r = self.r
        return r.repeat(2 + r.below(6), lambda: r.repeat(1 + r.below(8), lambda: r.char(*r.pick(SCRIPTS))) + " ")

    def ascii_noise_line(self):
        r = self.r
        return r.repeat(5 + r.below(40), lambda: r.char(0x21, 0x7E))

    def gap_line(self):
        r = self.r
        return (r.repeat(1 + r.below(3), lambda: r.pick(WORDS)) + " " * (1 + r.below(40)) + r.pick(WORDS) +
                "\n" * r.below(4) + "\t" * r.below(3) + r.pick(WORDS) + " " * r.below(3))

    def mixed_line(self):
        r = self.r
        return (r.pick(ACCENTED) + r.pick(EMOJI) + r.char(*r.pick(CJK)) + self.number() + r.pick(CONTRACTIONS) +
                r.pick(PUNCTUATION) + r.char(*r.pick(SCRIPTS)) + r.pick(SPACES) + self.word())

    def lookalike_line(self):
        r = self.r
        return r.repeat(1 + r.below(4), lambda: r.pick(["", " ", "\n"]) + r.pick(LOOKALIKES) + r.pick(["", " "]) +
                        self.prose(r.below(4)))

    def control_line(self):
        r = self.r
        return r.repeat(2 + r.below(5), lambda: self.word() + r.pick(CONTROLS) + r.pick(["", " "]))

    def long_line(self):
        """A few thousand characters from the other generators, joined by spaces and newlines."""
        r = self.r
        parts = []
        target = 2000 + r.below(6000)
        while sum(len(p) for p in parts) < target:
            parts.append(r.pick(self.generators)())
            parts.append(r.pick([" ", "\n", "\n\n", "", "  "]))
        return "".join(parts)

    def special_line(self, text):
        """`text` with an exact added token, or a near miss of one, put in at a random place."""
        r = self.r
        token = r.pick(self.specials)
        if r.chance(0.25):
            variants = [token[:-1], token[1:], token + token, token.upper(), " " + token + " ", token[:1] + " " + token[1:]]
            token = r.pick(variants)
        at = r.below(len(text) + 1)
        return text[:at] + r.pick(["", " ", "\n"]) + token + r.pick(["", " ", "\n", "  "]) + text[at:]

    def line(self):
        r = self.r
        text = self.long_line() if r.chance(0.01) else r.pick(self.generators)()
        if self.specials and r.chance(0.08):
            text = self.special_line(text)
        return text


def added_tokens(path):
    """The contents of the added tokens of a tokenizer.json."""
    with open(path, encoding="utf-8") as f:
        return [token["content"] for token in json.load(f).get("added_tokens", [])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--lines", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--specials-from", help="tokenizer.json whose added tokens go into some lines")
    args = parser.parse_args()
    if args.lines <= 0:
        parser.error("--lines must be positive")
    corpus = Corpus(SplitMix64(args.seed), added_tokens(args.specials_from) if args.specials_from else [])
    with open(args.out, "w", encoding="utf-8", newline="\n") as out:
        for _ in range(args.lines):
            out.write(json.dumps(corpus.line(), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
