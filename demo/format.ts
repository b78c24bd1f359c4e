// Numbers as people read them: binary units (MiB, as the CLI prints the same weights and KV pool), ms with two or three
// significant digits, a dash for a figure that does not exist yet.

const DASH = '–';

/** n bytes as a value below 1024 and its binary unit. */
function binaryUnit(n: number): [number, string] {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return [n, units[i]];
}

/** Sizes and rates: "14.6 MiB", "512 B". */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return DASH;
  const [value, unit] = binaryUnit(n);
  return `${unit === 'B' ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
}

/** WebGPU limits (powers of two): "1 GiB", "32 KiB". */
export function binaryBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return DASH;
  const [value, unit] = binaryUnit(n);
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}

export function rate(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${bytes(bytesPerSecond)}/s` : DASH;
}

/** "81.2 ms", "4.31 ms", "1234 ms". */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(value < 10 ? 2 : value < 1000 ? 1 : 0)} ms`;
}

export function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(valueMs < 10_000 ? 1 : 0)} s`;
}

export function perSecond(value: number | undefined, unit = 'tok/s'): string {
  if (value === undefined || !Number.isFinite(value) || value <= 0) return DASH;
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${unit}`;
}

export function percent(fraction: number): string {
  return `${Math.floor(Math.max(0, Math.min(1, fraction)) * 100)} %`;
}

/** 124M, 1.5B: a parameter count (records from before the count was recorded: f32 weight bytes / 4). */
export function params(parameters: number | undefined, weightBytes = 0): string {
  const n = parameters ?? weightBytes / 4;
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${Math.round(n / 1e6)}M`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

// Percentiles and model names come from the library, so the page, the CLI and the records agree.
export { percentile, displayName as shortModelName } from '../src/index.ts';
