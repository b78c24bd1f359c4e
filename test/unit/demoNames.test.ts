// How the page names a model from local files (its folder, else config.json's _name_or_path, never "3 local files")
// and how it prints sizes (binary units, as the CLI).
import { describe, expect, it } from 'vitest';
import { bytes } from '../../demo/format.ts';
import { localModelName } from '../../demo/localName.ts';

const file = (name: string, body = '', folder?: string) => {
  const f = new File([body], name);
  if (folder) Object.defineProperty(f, 'webkitRelativePath', { value: `${folder}/${name}` });
  else Object.defineProperty(f, 'webkitRelativePath', { value: '' });
  return f;
};

describe('localModelName', () => {
  it('is the picked folder', async () => {
    expect(await localModelName([file('config.json', '{"_name_or_path":"x/y"}', 'my-gpt2'), file('model.safetensors', '', 'my-gpt2')])).toBe('my-gpt2');
  });
  it("is config.json's _name_or_path for loose files (a disk path: its last folder)", async () => {
    expect(await localModelName([file('model.safetensors'), file('config.json', '{"_name_or_path":"openai-community/gpt2"}')])).toBe('openai-community/gpt2');
    expect(await localModelName([file('config.json', '{"_name_or_path":"/home/me/models/pythia-70m/"}')])).toBe('pythia-70m');
    expect(await localModelName([file('config.json', '{"_name_or_path":"C:\\\\models\\\\gpt2"}')])).toBe('gpt2');
  });
  it('falls back to the model type, never a file count', async () => {
    expect(await localModelName([file('config.json', '{"model_type":"gpt2"}'), file('vocab.json'), file('merges.txt')])).toBe('local gpt2 model');
    expect(await localModelName([file('config.json', 'not json'), file('a'), file('b')])).toBe('local model');
  });
});

describe('bytes', () => {
  it('prints MiB like the CLI', () => {
    expect(bytes(15_400_000)).toBe(`${(15_400_000 / 2 ** 20).toFixed(1)} MiB`);
    expect(bytes(2 ** 30 * 1.5)).toBe('1.5 GiB');
    expect(bytes(512)).toBe('512 B');
  });
});
