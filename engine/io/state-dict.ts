import { type RawTensor, type TensorMap, WeightFormatError } from './raw-tensor.ts';

// Where training scripts conventionally put the weights inside a larger checkpoint dict.
const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'module'];
const MAX_NESTING = 64;

export function isRawTensor(value: unknown): value is RawTensor {
  return typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'data' in value;
}

/**
 * The weights inside an unpickled checkpoint: a dict's own tensor entries if it has any; else the
 * first conventional entry (`state_dict`, `model`, …) that holds tensors; else every tensor in the
 * nested dicts and lists, named by dotted path.
 */
export function findStateDict(root: unknown, source = 'checkpoint'): TensorMap {
  if (!(root instanceof Map)) throw new WeightFormatError(`${source}: checkpoint is not a dict of tensors`);
  const direct: TensorMap = new Map();
  for (const [key, value] of root) if (isRawTensor(value)) direct.set(String(key), value);
  if (direct.size > 0) return direct;
  for (const key of STATE_DICT_KEYS) {
    const candidate = root.get(key);
    if (candidate instanceof Map) {
      const nested = collectTensors(candidate, source);
      if (nested.size > 0) return nested;
    }
  }
  const everything = collectTensors(root, source);
  if (everything.size === 0) throw new WeightFormatError(`${source}: checkpoint contains no tensors`);
  return everything;
}

function collectTensors(root: Map<unknown, unknown>, source: string): TensorMap {
  const found: TensorMap = new Map();
  const visited = new Set<unknown>();
  const visit = (value: unknown, path: string, depth: number): void => {
    if (isRawTensor(value)) {
      found.set(path, value);
      return;
    }
    if (!(value instanceof Map) && !Array.isArray(value)) return;
    if (visited.has(value)) return;
    if (depth > MAX_NESTING) throw new WeightFormatError(`${source}: containers nested deeper than ${MAX_NESTING} at ${path}`);
    visited.add(value);
    const entries: Iterable<[unknown, unknown]> = value instanceof Map ? value : value.entries();
    for (const [key, child] of entries) visit(child, path ? `${path}.${String(key)}` : String(key), depth + 1);
  };
  visit(root, '', 0);
  return found;
}

/** Removes `prefix` (e.g. DataParallel's `module.`) from the keys that carry it. */
export function stripPrefix(tensors: TensorMap, prefix: string): TensorMap {
  const stripped: TensorMap = new Map();
  for (const [key, tensor] of tensors) {
    const name = key.startsWith(prefix) ? key.slice(prefix.length) : key;
    if (stripped.has(name)) throw new WeightFormatError(`stripping "${prefix}" makes two tensors named ${name}`);
    stripped.set(name, tensor);
  }
  return stripped;
}

/**
 * Checks a loaded state dict against the names and shapes a model expects, reporting every missing,
 * unexpected and mis-shaped tensor in one error.
 */
export function matchStateDict(
  expected: ReadonlyMap<string, readonly number[]>,
  got: TensorMap,
  source = 'weights',
): void {
  const missing = [...expected].filter(([name]) => !got.has(name)).map(([name, shape]) => `${name} [${shape}]`);
  const unexpected = [...got].filter(([name]) => !expected.has(name)).map(([name, tensor]) => `${name} [${tensor.shape}]`);
  const misShaped = [...expected]
    .filter(([name, shape]) => got.has(name) && !sameShape(shape, got.get(name)!.shape))
    .map(([name, shape]) => `${name}: expected [${shape}], got [${got.get(name)!.shape}]`);
  if (missing.length + unexpected.length + misShaped.length === 0) return;
  const sections = [
    section('missing', missing),
    section('unexpected', unexpected),
    section('wrong shape', misShaped),
    prefixHint(expected, got),
  ].filter((text) => text !== '');
  throw new WeightFormatError(`${source} does not match the model:\n${sections.join('\n')}`);
}

/** The commonest mismatch is a wrapper prefix such as `module.`; name it when it explains a key. */
function prefixHint(expected: ReadonlyMap<string, readonly number[]>, got: TensorMap): string {
  for (const name of got.keys()) {
    if (expected.has(name)) continue;
    const dot = name.indexOf('.');
    if (dot > 0 && expected.has(name.slice(dot + 1))) return `  hint: keys carry the prefix "${name.slice(0, dot + 1)}"; see stripPrefix`;
  }
  return '';
}

function section(title: string, lines: string[]): string {
  return lines.length === 0 ? '' : `  ${title} (${lines.length}):\n${lines.map((line) => `    ${line}`).join('\n')}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}
