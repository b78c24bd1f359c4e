// Public surface of the tokenizer module: GPT-2 / GPT-NeoX byte-level BPE, identical to Hugging Face's.
//   Tokenizer.fromVocabAndMerges(vocabJson, mergesTxt)   GPT-2's own files
//   Tokenizer.fromTokenizerJson(tokenizerJson)            Hugging Face tokenizer.json (GPT-NeoX, Pythia, GPT-2)
//   tokenizer.encode(text) / decode(ids) / createStreamDecoder()

export { Tokenizer } from './tokenizer.ts';
export type { DecodeOptions } from './tokenizer.ts';
export type { StreamDecoder } from './streamDecoder.ts';
export type { AddedToken } from './addedTokens.ts';
export { GPT2_PRETOKENIZE_PATTERN } from './pretokenize.ts';
