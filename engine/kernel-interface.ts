// Each kernel's interface is declared once, in its WGSL: the uniform struct's fields and the
// bindings. The TypeScript side passes buffers in binding order and packs uniforms positionally
// (Uniforms().u32(...).f32(...)), so the two can drift apart silently: a field added to a struct
// under one #if, a binding slot shifted by an optional operand. This module reads the interface
// from the preprocessed WGSL when a pipeline is built and checks each dispatch against it, so a
// mismatch fails with the op's name and both sides spelled out instead of computing garbage.

export type ScalarType = 'u32' | 'i32' | 'f32';
export type BindingKind = 'read' | 'read_write' | 'uniform';

export interface KernelInterface {
  /** Bindings of group 0 by index. */
  bindings: Map<number, { name: string; kind: BindingKind }>;
  /** The uniform struct's fields in order (empty when the kernel has no uniform binding). */
  params: { name: string; type: ScalarType }[];
}

const stripComments = (code: string) => code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');

/** Reads the bindings and the uniform struct of preprocessed WGSL; throws on what it cannot check. */
export function parseKernelInterface(wgsl: string, label: string): KernelInterface {
  const code = stripComments(wgsl);
  const bindings = new Map<number, { name: string; kind: BindingKind }>();
  let uniformStruct: string | null = null;
  for (const m of code.matchAll(/@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*([^>]+)>\s*(\w+)\s*:\s*([\w<>, ]+?)\s*;/g)) {
    const [, group, index, space, name, type] = m;
    if (group !== '0') throw new Error(`${label}: binding ${name} is in group ${group}; kernels here bind group 0 only`);
    const parts = space.split(',').map((s) => s.trim());
    // A uniform-buffer array (conv weights on CPU drivers) is an operand the dispatch binds like a
    // read-only storage buffer; the uniform struct is the Uniforms block.
    const operand = parts[0] === 'uniform' && type.startsWith('array');
    const kind: BindingKind = parts[0] === 'uniform' && !operand ? 'uniform' : parts[1] === 'read_write' ? 'read_write' : 'read';
    if (bindings.has(Number(index))) throw new Error(`${label}: binding ${index} is declared twice (${bindings.get(Number(index))!.name}, ${name})`);
    bindings.set(Number(index), { name, kind });
    if (kind === 'uniform') uniformStruct = type;
  }
  const params: KernelInterface['params'] = [];
  if (uniformStruct) {
    const body = code.match(new RegExp(`struct\\s+${uniformStruct}\\s*\\{([^}]*)\\}`));
    if (!body) throw new Error(`${label}: the uniform struct ${uniformStruct} is not declared`);
    for (const field of body[1].split(',').map((f) => f.trim()).filter(Boolean)) {
      const fm = field.match(/^(\w+)\s*:\s*(\w+)$/);
      if (!fm || !['u32', 'i32', 'f32'].includes(fm[2])) throw new Error(`${label}: uniform field "${field}" is not a u32, i32 or f32 scalar (Uniforms packs only those)`);
      params.push({ name: fm[1], type: fm[2] as ScalarType });
    }
  }
  return { bindings, params };
}

/** Throws unless `storageCount` buffers bound at 0.. and uniforms packed as `uniformTypes` (null: none) fit the interface. */
export function checkDispatch(iface: KernelInterface, label: string, storageCount: number, uniformTypes: readonly ScalarType[] | null): void {
  const expected = storageCount + (uniformTypes ? 1 : 0);
  const declared = [...iface.bindings.keys()].sort((a, b) => a - b);
  if (declared.length !== expected || declared.some((b, i) => b !== i)) {
    throw new Error(`${label}: the WGSL declares bindings [${declared.join(', ')}] but the dispatch binds ${storageCount} buffer(s)${uniformTypes ? ' and a uniform block' : ''} at 0..${expected - 1}`);
  }
  for (let i = 0; i < storageCount; i++) {
    if (iface.bindings.get(i)!.kind === 'uniform') throw new Error(`${label}: binding ${i} (${iface.bindings.get(i)!.name}) is the uniform block, but the dispatch puts a storage buffer there`);
  }
  if (!uniformTypes) return;
  const uniform = iface.bindings.get(storageCount)!;
  if (uniform.kind !== 'uniform') throw new Error(`${label}: binding ${storageCount} (${uniform.name}) is a storage buffer, but the dispatch puts the uniform block there`);
  const declaredTypes = iface.params.map((p) => p.type);
  if (declaredTypes.length !== uniformTypes.length || declaredTypes.some((t, i) => t !== uniformTypes[i])) {
    const fields = iface.params.map((p) => `${p.name}: ${p.type}`).join(', ');
    throw new Error(`${label}: the WGSL uniform struct is { ${fields} } (${declaredTypes.length} fields) but the dispatch packed [${uniformTypes.join(', ')}]`);
  }
}
