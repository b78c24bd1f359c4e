// Static checks over every shader in shaders/ for hazards that one WebGPU implementation hides and another exposes.
// - A `var` without an initializer: WGSL zeroes it each time its declaration runs, but Tint's SPIR-V output (Chromium on
//   Vulkan / SwiftShader) zeroes a var declared inside a loop only once, at function entry (issue 9: wrong GEMV rows 4 … 7
//   in Chromium, right on Dawn's OpenGL path). So every var is written with its initial value.
// The numbers themselves are checked on both adapters by the GPU tests (vitest.config.ts, projects node and chromium).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SHADERS = join(import.meta.dirname, '..', '..', 'shaders');
const files = readdirSync(SHADERS).filter((f) => f.endsWith('.wgsl'));

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

/** `var name: T;` (function or private scope; not var<storage|uniform|workgroup>, which are not initialised in code). */
export function uninitialisedVars(source: string): string[] {
  const found: string[] = [];
  for (const [i, line] of withoutComments(source).split('\n').entries()) {
    for (const m of line.matchAll(/\bvar\s+(\w+)\s*:[^;=]*;/g)) found.push(`line ${i + 1}: var ${m[1]}`);
  }
  return found;
}

describe('shader hazards', () => {
  it('finds the hazard it looks for', () => {
    expect(uninitialisedVars('fn f() {\n  for (;;) {\n    var acc: array<f32, ROWS>;\n  }\n}')).toEqual(['line 3: var acc']);
    expect(uninitialisedVars('var<workgroup> s: array<f32, 64>;\nfn f() { var a = array<f32, 4>(); var b: f32 = 0.0; }')).toEqual([]);
  });

  it.each(files)('%s: every var has an initializer', (file) => {
    expect(uninitialisedVars(readFileSync(join(SHADERS, file), 'utf8'))).toEqual([]);
  });
});
