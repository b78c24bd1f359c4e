// Which model URLs a link may load by itself (demo/trust.ts): the page's own origin and the default Hub only.
import { describe, expect, it } from 'vitest';
import { loadsByItself } from '../../demo/trust.ts';

const PAGE = 'http://localhost:4173/?model=x';

describe('loadsByItself', () => {
  it.each([
    'http://localhost:4173/gpt2-shakespeare/',
    'http://localhost:4173/test-org/m/resolve/main/',
    'https://huggingface.co/openai-community/gpt2/resolve/main/',
  ])('%s: yes', (url) => expect(loadsByItself(url, PAGE)).toBe(true));

  it.each([
    'http://localhost:4174/gpt2-shakespeare/',
    'https://localhost:4173/m/',
    'http://127.0.0.1:4173/m/',
    'https://huggingface.co.evil.example/m/',
    'https://hf-mirror.com/openai-community/gpt2/resolve/main/',
    'http://huggingface.co/m/',
    'not a url',
  ])('%s: no', (url) => expect(loadsByItself(url, PAGE)).toBe(false));
});
