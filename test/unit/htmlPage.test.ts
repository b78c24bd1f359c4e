// isHtmlPage: what counts as an HTML page sent in place of a model file (the SPA-fallback rule every source uses).
import { describe, expect, it } from 'vitest';
import { isHtmlPage, memoryModelFiles, optionalText } from '../../src/io/modelFiles.ts';

describe('isHtmlPage', () => {
  it.each(['<!doctype html><html>', '<!DOCTYPE html>', '\uFEFF<!DocType html>', ' \n\t<html lang="en">', '<HTML>'])('%j is a page', (text) => {
    expect(isHtmlPage(text)).toBe(true);
  });
  it.each(['{"model": {}}', '#version: 0.2\nĠ t', '', '<|endoftext|>', '"<html>"', '<htmlx'])('%j is not', (text) => {
    expect(isHtmlPage(text)).toBe(false);
  });
  it('goes by the content type when there is one', () => {
    expect(isHtmlPage('{}', 'text/html; charset=utf-8')).toBe(true);
    expect(isHtmlPage('{}', 'TEXT/HTML')).toBe(true);
    expect(isHtmlPage('{}', 'application/json')).toBe(false);
    expect(isHtmlPage('{}', null)).toBe(false);
  });
  it('optionalText treats a page as absent and passes real files through', async () => {
    const files = memoryModelFiles('m', { 'tokenizer.json': '<!doctype html>', 'vocab.json': '{}' });
    expect(await optionalText(files, 'tokenizer.json')).toBeUndefined();
    expect(await optionalText(files, 'merges.txt')).toBeUndefined();
    expect(await optionalText(files, 'vocab.json')).toBe('{}');
  });
});
