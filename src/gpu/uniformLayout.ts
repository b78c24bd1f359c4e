// The uniform params struct of a WGSL shader, read from its source, and the check that a kernel module's `Params` writes
// exactly those fields: same names, same order, same scalar types. A field written out of order or as the wrong type
// is not a WebGPU error — the shader just reads other numbers — so the check runs once per call site, when it is built
// (kernel.ts), and in the unit tests without a GPU (test/unit/kernelParams.test.ts).
//
// Only structs of 4-byte scalars (u32, i32, f32) are accepted: their WGSL layout is the fields back to back, 4 bytes
// each, which is how `Params` packs them. A vector, array, matrix, f16 or an @align/@size attribute would move the
// offsets, so such a struct is refused here until `Params` learns that layout.

export type UniformScalar = 'u32' | 'i32' | 'f32';

export interface UniformField {
  readonly name: string;
  readonly type: UniformScalar;
}

const SCALARS: ReadonlySet<string> = new Set<UniformScalar>(['u32', 'i32', 'f32']);

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

/**
 * The fields of the struct bound as `var<uniform>` at @binding(0) (the kernels' convention, see kernel.ts), or
 * undefined when the shader has no uniform at binding 0. Throws when the struct is missing or holds a member that is
 * not a plain u32 / i32 / f32.
 */
export function parseUniformStruct(wgsl: string, shaderName: string): UniformField[] | undefined {
  const source = withoutComments(wgsl);
  const binding = /@binding\(\s*0\s*\)[^;]*?\bvar\s*<\s*uniform\s*>\s*\w+\s*:\s*(\w+)\s*;/.exec(source);
  if (!binding) return undefined;
  const typeName = binding[1];
  const struct = new RegExp(`\\bstruct\\s+${typeName}\\s*\\{([^}]*)\\}`).exec(source);
  if (!struct) throw new Error(`shader ${shaderName}: the uniform at @binding(0) has type ${typeName}, but no \`struct ${typeName}\` is declared`);
  const fields: UniformField[] = [];
  for (const raw of struct[1].split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    const m = /^(\w+)\s*:\s*(.+)$/s.exec(member);
    if (!m) throw new Error(`shader ${shaderName}: cannot read member "${member}" of struct ${typeName} (kernel params take plain \`name: u32|i32|f32\` members)`);
    const [, name, type] = m;
    if (!SCALARS.has(type.trim())) {
      throw new Error(`shader ${shaderName}: struct ${typeName} member ${name} has type ${type.trim()}; kernel params pack only u32, i32 and f32 scalars (4 bytes each, no padding)`);
    }
    fields.push({ name, type: type.trim() as UniformScalar });
  }
  return fields;
}

const show = (f: UniformField | undefined): string => (f ? `${f.name}: ${f.type}` : 'nothing');

/**
 * Throws an Error naming `where` (the shader, and the call site if known), the first field that differs and how,
 * unless `written` (what the kernel module's Params holds, in order) equals `declared` (the shader's struct).
 */
export function checkUniformFields(where: string, declared: readonly UniformField[], written: readonly UniformField[]): void {
  const n = Math.max(declared.length, written.length);
  for (let i = 0; i < n; i++) {
    const d = declared[i];
    const w = written[i];
    if (d && w && d.name === w.name && d.type === w.type) continue;
    let what: string;
    if (!w) what = `the module writes ${written.length} fields and stops before field ${i} (${show(d)})`;
    else if (!d) what = `the module writes an extra field ${i} (${show(w)}) after the struct's last field`;
    else if (d.name === w.name) what = `field ${i} (${d.name}) is ${d.type} in WGSL but the module writes it as ${w.type}`;
    else {
      const elsewhere = declared.findIndex((f) => f.name === w.name);
      what =
        `field ${i} is ${show(d)} in WGSL but the module writes ${show(w)}` +
        (elsewhere >= 0 ? ` (which WGSL declares as field ${elsewhere}: out of order)` : ` (no field of that name in WGSL)`);
    }
    throw new Error(
      `${where}: uniform params do not match its struct: ${what}; WGSL declares (${declared.map(show).join(', ')}), ` +
        `the module writes (${written.map(show).join(', ')})`,
    );
  }
}
