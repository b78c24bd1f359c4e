// The model's tokenizer from its files: tokenizer.json, or vocab.json + merges.txt (GPT-2's original layout). Both
// are optional files, read through optionalText, so an HTML page a web server sends for a missing file counts as absent.
import type { ModelFiles } from './modelFiles.ts';
import { optionalText } from './modelFiles.ts';
import { Tokenizer } from '../tokenizer/index.ts';

/** The tokenizer, or undefined when the model has no tokenizer files at all (it then runs on token ids only). */
export async function loadTokenizerFiles(files: ModelFiles): Promise<Tokenizer | undefined> {
  const json = await optionalText(files, 'tokenizer.json');
  if (json !== undefined) return Tokenizer.fromTokenizerJson(json);
  const vocab = await optionalText(files, 'vocab.json');
  const merges = vocab === undefined ? undefined : await optionalText(files, 'merges.txt');
  if (vocab !== undefined && merges !== undefined) return Tokenizer.fromVocabAndMerges(vocab, merges);
  return undefined;
}
