// modelBaseUrl / cachedModelFiles sources: Hub ids, http(s) URLs and site-relative paths; anything else is a
// ConfigError at once (never a bare "TypeError: Invalid URL" on first use).
import { describe, expect, it } from 'vitest';
import { cachedModelFiles, modelBaseUrl } from '../../src/io/cachedModelFiles.ts';
import { ConfigError } from '../../src/errors.ts';

const page = 'https://site.example/app/index.html';

describe('model sources', () => {
  it('Hub ids go to the Hub endpoint', () => {
    expect(modelBaseUrl('openai-community/gpt2', undefined, page)).toBe('https://huggingface.co/openai-community/gpt2/resolve/main/');
    expect(modelBaseUrl('gpt2', 'http://mirror.local/hf', page)).toBe('http://mirror.local/hf/gpt2/resolve/main/');
  });
  it.each([
    ['./models/x', 'https://site.example/app/models/x/'],
    ['../models/x/', 'https://site.example/models/x/'],
    ['/models/x', 'https://site.example/models/x/'],
    ['/models/x/', 'https://site.example/models/x/'],
    ['models/x/', 'https://site.example/app/models/x/'],
    ['a/b/c', 'https://site.example/app/a/b/c/'],
    ['./x', 'https://site.example/app/x/'],
  ])('the path %j resolves against the page', (source, expected) => {
    expect(modelBaseUrl(source, undefined, page)).toBe(expected);
  });
  it('absolute URLs stay as they are', () => {
    expect(modelBaseUrl('HTTP://Example.com/m', undefined, page)).toBe('http://example.com/m/');
  });
  it.each(['javascript:alert(1)', 'data:text/plain,x', 'file:///etc', 'not a model id!', '', 'http://[bad/'])('%j is a ConfigError', (source) => {
    expect(() => modelBaseUrl(source, undefined, page)).toThrow(ConfigError);
  });
  it('a relative path without a page (Node) is a ConfigError saying to pass an absolute URL', () => {
    expect(() => modelBaseUrl('./models/x', undefined, undefined)).toThrow(/pass an absolute http\(s\) URL/);
    expect(() => cachedModelFiles('/models/x/')).toThrow(ConfigError);
    expect(() => cachedModelFiles('./x')).toThrow(/no globalThis\.location/);
  });
});
