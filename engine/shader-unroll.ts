// Expands loops marked `#unroll` into one block per iteration, after the variant conditionals.
// Why: SwiftShader compiles a function-scope array indexed by a loop variable into per-lane memory
// gathers, and does not unroll loops itself. The register tiles of conv2d and matmul are such arrays:
// unrolled, their indices are constants and the arrays become registers (a probe of 16 vec4
// accumulators: 0.33 GFLOP/s looped, 2.0–2.8 unrolled on SwiftShader; lavapipe's LLVM unrolls them
// itself, 8.2 against 9.3). The marked loop must read
//   #unroll
//   for (var i = FIRST; i < BOUND; i++) { BODY }
// with FIRST and BOUND integer expressions of literals and module-scope `const`s; BODY may not
// assign i, `break` or `continue` (an unrolled iteration has no loop to leave). Each iteration
// becomes `{ BODY }` with i replaced by its value, so BODY's declarations stay local to it.

const MARKER = /^[ \t]*#unroll[ \t]*\r?\n/m;
const EVERY_MARKER = new RegExp(MARKER.source, 'gm');
const HEADER = /^\s*for\s*\(\s*var\s+([A-Za-z_]\w*)\s*=\s*([^;]+);\s*\1\s*<\s*([^;]+);\s*\1\s*\+\+\s*\)\s*\{/;
const MODULE_CONST = /^const\s+([A-Za-z_]\w*)\s*=\s*([^;]+);/gm;
const MAX_ITERATIONS = 256;

/** Integer value of an expression of literals (`4u`, `3`), module consts and + − * / % ( ), as WGSL's integer arithmetic computes it. */
function evaluate(expression: string, consts: Map<string, string>, seen: Set<string> = new Set()): number | undefined {
  const tokens = expression.match(/\d+[ui]?|[A-Za-z_]\w*|[-+*/%()]|\S/g) ?? [];
  let at = 0;
  const primary = (): number | undefined => {
    const token = tokens[at++];
    if (token === undefined) return undefined;
    if (token === '(') {
      const v = sum();
      return tokens[at++] === ')' ? v : undefined;
    }
    if (token === '-') {
      const v = primary();
      return v === undefined ? undefined : -v;
    }
    if (/^\d+[ui]?$/.test(token)) return Number.parseInt(token, 10);
    const definition = consts.get(token);
    if (definition === undefined || seen.has(token)) return undefined;
    return evaluate(definition, consts, new Set([...seen, token]));
  };
  const product = (): number | undefined => {
    let v = primary();
    while (v !== undefined && ['*', '/', '%'].includes(tokens[at])) {
      const op = tokens[at++];
      const r = primary();
      if (r === undefined || (op !== '*' && r === 0)) return undefined;
      v = op === '*' ? v * r : op === '/' ? Math.trunc(v / r) : v % r;
    }
    return v;
  };
  const sum = (): number | undefined => {
    let v = product();
    while (v !== undefined && (tokens[at] === '+' || tokens[at] === '-')) {
      const op = tokens[at++];
      const r = product();
      if (r === undefined) return undefined;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  return at === tokens.length ? v : undefined;
}

/** Index just past the brace that closes the one at `open`. */
function closingBrace(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++;
    else if (code[i] === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

/** `code` with its `#unroll` markers removed and the loops left as they are. */
export function withoutUnrollMarkers(code: string): string {
  return code.replace(EVERY_MARKER, '');
}

/** `code` with every `#unroll` loop expanded (nested ones too); throws, naming the shader, where a marked loop cannot be. */
export function unrollLoops(code: string, shaderName: string): string {
  const consts = new Map<string, string>();
  for (const m of code.matchAll(MODULE_CONST)) consts.set(m[1], m[2]);
  const fail = (line: string, why: string): never => {
    throw new Error(`shader "${shaderName}": cannot unroll \`${line.trim()}\`: ${why}`);
  };
  let out = code;
  for (let m = MARKER.exec(out); m; m = MARKER.exec(out)) {
    const start = m.index + m[0].length;
    const rest = out.slice(start);
    const firstLine = rest.split('\n', 1)[0];
    const header = HEADER.exec(rest);
    if (!header) fail(firstLine, 'expected `for (var i = FIRST; i < BOUND; i++) {` on the line after #unroll');
    const [whole, name, firstText, boundText] = header!;
    const first = evaluate(firstText, consts);
    const bound = evaluate(boundText, consts);
    if (first === undefined || bound === undefined) fail(firstLine, 'its bounds are not integer expressions of literals and module-scope consts');
    if (bound! - first! > MAX_ITERATIONS) fail(firstLine, `${bound! - first!} iterations (at most ${MAX_ITERATIONS})`);
    const open = start + whole.length - 1;
    const end = closingBrace(out, open);
    if (end < 0) fail(firstLine, 'its body has no closing brace');
    const body = out.slice(open + 1, end - 1);
    if (/\b(break|continue)\b/.test(body)) fail(firstLine, 'its body has break or continue');
    const variable = new RegExp(`(?<![.\\w])${name}\\b`, 'g');
    if (new RegExp(`\\b${name}\\s*(\\+\\+|--|[-+*/%&|^]?=(?!=))`).test(body)) fail(firstLine, `its body assigns ${name}`);
    const suffix = /u\s*$/.test(firstText) ? 'u' : '';
    const indent = m[0].match(/^[ \t]*/)![0];
    const blocks: string[] = [];
    for (let i = first!; i < bound!; i++) blocks.push(`{${body.replace(variable, `${i}${suffix}`)}}`);
    out = out.slice(0, m.index) + indent + (blocks.join('\n' + indent) || '// unrolled: no iterations') + out.slice(end);
  }
  return out;
}
