// The model's tokenizer from its files: tokenizer.json, or vocab.json + merges.txt (GPT-2's original layout). Both
// are optional files, read through optionalText, so an HTML page a web server sends for a missing file counts as absent.
// Half a tokenizer (one of vocab.json / merges.txt, or a tokenizer.json that cannot be used) fails here, at load, and
// not later at the first prompt; a model with no tokenizer files at all still loads, for token ids only.
import type { ModelFiles } from './modelFiles.ts';
import { optionalText } from './modelFiles.ts';
import { TokenizerError } from '../errors.ts';
import { Tokenizer } from '../tokenizer/index.ts';

/** The tokenizer, or undefined when the model has no tokenizer files at all (it then runs on token ids only). */
export async function loadTokenizerFiles(files: ModelFiles): Promise<Tokenizer | undefined> {
  const json = await optionalText(files, 'tokenizer.json');
  if (json !== undefined) {
    try {
      return Tokenizer.fromTokenizerJson(json);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new TokenizerError(`${files.name}: tokenizer.json cannot be used (${why}); replace it with the model's tokenizer.json, or remove it and add vocab.json + merges.txt`);
    }
  }
  const vocab = await optionalText(files, 'vocab.json');
  const merges = await optionalText(files, 'merges.txt');
  if (vocab !== undefined && merges !== undefined) return Tokenizer.fromVocabAndMerges(vocab, merges);
  if (vocab === undefined && merges === undefined) return undefined;
  const [have, missing] = vocab === undefined ? ['merges.txt', 'vocab.json'] : ['vocab.json', 'merges.txt'];
  throw new TokenizerError(`${files.name} has ${have} but no ${missing}: the tokenizer needs both; add ${missing} from the model's repository (or its tokenizer.json)`);
}
