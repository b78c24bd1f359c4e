// Turns a WGSL template from shaders/ into WGSL. Templates use `${NAME}` for constants and wgsl-preprocessor's
// `#if ${FLAG}` … `#else` … `#endif` for feature variants; the values come from the kernel module that owns the file.
// The same templates are imported with `?raw` by Vite (browser), Vitest, and Node (scripts/raw-text-loader.mjs).
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js'; // the package has no "main": import its one file

export type ShaderDefines = Readonly<Record<string, boolean | number | string>>;

const PLACEHOLDER = /\$\{(\w+)\}/g;

export function preprocessWgsl(template: string, defines: ShaderDefines, shaderName: string): string {
  const strings: string[] = [];
  const values: unknown[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (!Object.hasOwn(defines, name)) throw new Error(`shader ${shaderName}: no value for \${${name}}`);
    strings.push(template.slice(last, match.index));
    values.push(formatValue(defines[name]));
    last = match.index + match[0].length;
  }
  strings.push(template.slice(last));
  return wgsl(Object.assign(strings, { raw: strings }) as unknown as TemplateStringsArray, ...values);
}

/** Booleans stay booleans (for #if); integers print as WGSL literals without a suffix, floats with a decimal point. */
function formatValue(value: boolean | number | string): unknown {
  if (typeof value !== 'number') return value;
  if (Number.isInteger(value)) return String(value);
  return value.toPrecision(9);
}
