#!/usr/bin/env node
// Writes a deterministic tokenizer test corpus: one JSON string per line (so samples may hold
// newlines), mixing ASCII prose, contractions, accents (precomposed and combining), CJK, emoji
// sequences, digits, whitespace runs, code, other scripts and, on request, special tokens.
//   node make_corpus.js OUT.jsonl [--lines N] [--seed S] [--specials "<|a|>,<|b|>"]
// Whitespace avoids U+0085, U+180E and U+FEFF: JavaScript's \s and Unicode's White_Space (HF
// tokenizers, PCRE2) disagree on exactly these, which says nothing about either tokenizer.
'use strict';
const fs = require('fs');

const args = process.argv.slice(2);
const out = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const lineCount = Number(option('--lines', '12000'));
let state = BigInt(option('--seed', '20240611')) & 0xFFFFFFFFFFFFFFFFn;
const specials = option('--specials', '').split(',').filter((s) => s.length > 0);
if (!out || !(lineCount > 0)) {
  console.error('usage: make_corpus.js OUT.jsonl [--lines N] [--seed S] [--specials a,b]');
  process.exit(2);
}

// SplitMix64, so the corpus is the same on every machine and Node version.
function next() {
  state = (state + 0x9E3779B97F4A7C15n) & 0xFFFFFFFFFFFFFFFFn;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & 0xFFFFFFFFFFFFFFFFn;
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & 0xFFFFFFFFFFFFFFFFn;
  return z ^ (z >> 31n);
}
const below = (n) => Number(next() % BigInt(n));
const pick = (list) => list[below(list.length)];
const chance = (p) => below(1000000) < p * 1000000;
const range = (lo, hi) => String.fromCodePoint(lo + below(hi - lo + 1));
const repeat = (n, f) => Array.from({length: n}, f).join('');

const words = ('the of and to in is was for on that with as by at from it his an were are which this be has had ' +
  'not they you have one their also first but or new two can after who more other time people years all when ' +
  'model token train data learning preference reward policy gradient batch rank server cache merge byte split ' +
  'Hello World Alice Bob London Paris NASA GPT Llama Qwen Transformer DPO OpenAI JSON HTTP TCP UTF').split(' ');
const contractions = ["it's", "I'm", "they're", "we've", "you'll", "he'd", "can't", "won't", "don't", "isn't",
  "IT'S", "I'M", "THEY'RE", "We'Ve", "You'LL", "she'D", "o'clock", "rock'n'roll", "'tis", "y'all", "ma'am",
  "the cat's", "James's", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "''", "'", "it\u2019s", "don\u2019t"];
const accented = ['caf\u00e9', 'na\u00efve', 'r\u00e9sum\u00e9', 'M\u00fcnchen', '\u00fcber', 'Stra\u00dfe',
  'ma\u00f1ana', 'Espa\u00f1a', 'fran\u00e7ais', 'gar\u00e7on', '\u00e0 la', 'S\u00e3o Paulo', 'Ti\u1ebfng Vi\u1ec7t',
  'Ng\u01b0\u1eddi', '\u0141\u00f3d\u017a', '\u010cesk\u00fd', 'd\u00e9j\u00e0 vu', 'cre\u0300me', 'nai\u0308ve',
  'e\u0301t\u00e9', 'A\u030a', '\u00c5ngstr\u00f6m', '\u212b', 'co\u00f6perate', '\u00efle', '\u0153uvre'];
const scripts = [[0x0410, 0x044F], [0x0391, 0x03C9], [0x05D0, 0x05EA], [0x0627, 0x064A], [0x0905, 0x0939],
  [0x0E01, 0x0E2E], [0x10D0, 0x10F0], [0x0531, 0x0556], [0x0B85, 0x0B94]];
const cjk = [[0x4E00, 0x9FA5], [0x3041, 0x3096], [0x30A1, 0x30FA], [0xAC00, 0xD7A3]];
const cjkPunctuation = ['\u3002', '\uff0c', '\u3001', '\uff01', '\uff1f', '\u300c', '\u300d', '\uff08', '\uff09',
  '\u30fc', '\u3000'];
const emoji = ['\u{1F600}', '\u{1F602}', '\u{1F44D}', '\u{1F44D}\u{1F3FD}', '\u2764\uFE0F', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}',
  '\u{1F1EB}\u{1F1F7}', '\u{1F1EF}\u{1F1F5}', '\u{1F680}', '\u{1F525}', '\u2728', '\u{1F916}', '\u{1F9E0}',
  '\u263A', '\u{1F3F3}\uFE0F\u200D\u{1F308}', '\u{1F469}\u200D\u{1F4BB}', '\u00a9', '\u2122', '\u{1F4A9}'];
const spaces = [' ', '  ', '   ', '    ', '\t', '\t\t', ' \t ', '\u00a0', '\u3000', '\u2003', '\u2009', '\u202f',
  '\n', '\n\n', '\r\n', ' \n ', '\n   ', '\u2028', '\u2029', '\v', '\f', '\r'];
const punctuation = ['.', ',', '!', '?', ';', ':', '...', '--', ' - ', '(', ')', '"', '[', ']', '{', '}', '/', '\\',
  '@', '#', '$', '%', '^', '&', '*', '+', '=', '<', '>', '|', '~', '`', '\u2014', '\u2026', '\u00bf', '\u00a1',
  '\u00ab', '\u00bb', '\u201c', '\u201d'];
const code = [
  'for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}',
  'def encode(self, text: str) -> list[int]:\n    return [self.vocab[t] for t in text.split()]',
  'const x = {a: 1, "b": [2, 3], c: null};\nconsole.log(JSON.stringify(x));',
  '#include <vector>\nstd::vector<int64_t> ids{1, 2, 3};',
  'if x != None and y >= 10:\n\tprint(f"{x!r} -> {y:08.3f}")',
  'SELECT id, name FROM users WHERE age > 21 ORDER BY name DESC;',
  '  return a && b || !c ? x << 2 : y >> 3;  // bit twiddling',
  '<div class="row"><span id=\'x\'>&nbsp;&lt;tag&gt;</span></div>',
  '$ git commit -m "Fix: handle \\r\\n" && ./build.sh --jobs=4',
  'fn main() { let v: Vec<u8> = b"bytes".to_vec(); println!("{:?}", v); }',
  '    \n\n        indented_after_blank_lines = True\n',
  'x=1;y=2;z=x+y*3-4/5%6**7',
  'https://example.com/path?query=a%20b&lang=en#frag',
  'user.name+tag@example.co.uk',
  '```python\nimport numpy as np\nnp.zeros((3, 4))\n```',
  '| col1 | col2 |\n|------|------|\n| 1.5  | -2e-3 |'];

function number() {
  switch (below(7)) {
    case 0: return String(below(10));
    case 1: return String(below(100000));
    case 2: return String(below(1000000000)) + String(below(1000000000));
    case 3: return (below(20000) / 100 - 100).toFixed(2);
    case 4: return `${1900 + below(150)}-${String(1 + below(12)).padStart(2, '0')}-${String(1 + below(28)).padStart(2, '0')}`;
    case 5: return `+1 (${100 + below(900)}) ${100 + below(900)}-${1000 + below(9000)}`;
    default: return range(0x0660, 0x0669) + range(0xFF10, 0xFF19) + '\u00bd\u2163' + range(0x0966, 0x096F);
  }
}

function word() { return chance(0.15) ? pick(words).toUpperCase() : pick(words); }

function prose(n) {
  let s = '';
  for (let i = 0; i < n; ++i) {
    if (i > 0) s += chance(0.9) ? ' ' : pick(spaces);
    s += chance(0.1) ? pick(contractions) : chance(0.08) ? number() : word();
    if (chance(0.12)) s += pick(punctuation);
  }
  return s;
}

const generators = [
  () => prose(3 + below(25)),
  () => prose(2 + below(6)) + ' ' + repeat(1 + below(4), () => pick(contractions) + pick([' ', '', "'", 's']) ),
  () => repeat(2 + below(8), () => pick(accented) + pick([' ', ', ', '. ', ''])),
  () => repeat(3 + below(30), () => range(...pick(cjk)) + (chance(0.2) ? pick(cjkPunctuation) : '')),
  () => prose(2 + below(5)) + ' ' + repeat(1 + below(6), () => pick(emoji) + (chance(0.5) ? ' ' : '')),
  () => repeat(2 + below(8), () => number() + pick([' ', ', ', '.', '', ' + ', 'x', '%'])),
  () => pick(spaces) + prose(1 + below(4)) + repeat(1 + below(4), () => pick(spaces)) + prose(1 + below(3)) +
      pick(spaces).repeat(1 + below(3)),
  () => pick(code) + (chance(0.5) ? '\n' + pick(code) : ''),
  () => repeat(2 + below(6), () => repeat(1 + below(8), () => range(...pick(scripts))) + ' '),
  () => repeat(5 + below(40), () => range(0x21, 0x7E)),
  () => repeat(1 + below(3), () => pick(words)) + ' '.repeat(1 + below(40)) + pick(words) + '\n'.repeat(below(4)) +
      '\t'.repeat(below(3)) + pick(words),
  () => pick(accented) + pick(emoji) + range(...pick(cjk)) + number() + pick(contractions) + pick(punctuation) +
      range(...pick(scripts)) + pick(spaces) + word(),
];

const lines = [];
for (let i = 0; i < lineCount; ++i) {
  let text = pick(generators)();
  if (specials.length > 0 && chance(0.08)) {
    const at = below(text.length + 1);
    text = text.slice(0, at) + pick(['', ' ']) + pick(specials) + pick(['', ' ', '\n']) + text.slice(at);
  }
  // Never cut a surrogate pair (slice above works on UTF-16 units).
  text = text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '');
  lines.push(JSON.stringify(text));
}
fs.writeFileSync(out, lines.join('\n') + '\n');
