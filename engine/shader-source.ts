// Loads `shaders/<name>.wgsl` and expands its variant conditionals with wgsl-preprocessor and, where
// the tuning asks, its `#unroll` loops.
// In the .wgsl files a conditional names a define: `#if VEC4`, `#elif !BIAS`; numeric defines are
// spliced where `${NAME}` appears. Built code (the package, browser bundles) has the files embedded
// (shader-texts.ts); run from source, Node reads them from disk. Either way the same WGSL runs.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { EMBEDDED_SHADERS } from './shader-texts.ts';
import { unrollLoops, withoutUnrollMarkers } from './shader-unroll.ts';

export type Defines = Record<string, boolean | number>;

const sources = new Map<string, string>();

export function registerShaderSources(map: Record<string, string>): void {
  for (const [name, text] of Object.entries(map)) sources.set(name, text);
}

if (EMBEDDED_SHADERS) registerShaderSources(EMBEDDED_SHADERS);

let readFileSync: ((url: URL, enc: 'utf8') => string) | undefined;
if (!EMBEDDED_SHADERS && typeof process !== 'undefined' && process.versions?.node) {
  ({ readFileSync } = await import('node:fs'));
}

export function shaderSource(name: string): string {
  const cached = sources.get(name);
  if (cached !== undefined) return cached;
  if (!readFileSync) throw new Error(`shader "${name}" is not registered; it is not among the embedded shaders`);
  const text = readFileSync(new URL(`../shaders/${name}.wgsl`, import.meta.url), 'utf8');
  sources.set(name, text);
  return text;
}

const TOKEN = /(#(?:if|elif)[ \t]+)(!?)([A-Z_][A-Z0-9_]*)|\$\{([A-Z_][A-Z0-9_]*)\}/g;

/**
 * Applies defines (each named condition or `${NAME}` becomes a template substitution); then, where
 * the define UNROLL is set, expands the `#unroll` loops (shader-unroll.ts), else leaves them loops.
 */
export function preprocess(source: string, defines: Defines, shaderName: string): string {
  const strings: string[] = [];
  const values: unknown[] = [];
  let last = 0;
  for (const m of source.matchAll(TOKEN)) {
    const name = m[3] ?? m[4];
    if (!(name in defines)) throw new Error(`shader "${shaderName}": define ${name} is not set`);
    const value = defines[name];
    if (m[1] !== undefined) {
      strings.push(source.slice(last, m.index) + m[1]);
      values.push(m[2] === '!' ? !value : !!value);
    } else {
      strings.push(source.slice(last, m.index));
      values.push(value);
    }
    last = m.index! + m[0].length;
  }
  strings.push(source.slice(last));
  const raw = Object.assign([...strings], { raw: strings });
  const code = wgsl(raw as unknown as TemplateStringsArray, ...values);
  return defines.UNROLL ? unrollLoops(code, shaderName) : withoutUnrollMarkers(code);
}
