// Per-image results of an evaluation and everything derived from them. An evaluation (or a shard
// of one) stores only these flags; accuracies, the worst case and paired tests are computed from
// them here, so a report joined from shards is the same function of the same flags as an unsharded
// one.
//
// Convention (AutoAttack's): an image counts as robust to an attack only if the defence also
// classifies its clean version correctly, and the worst case counts an image only if it is clean
// correct and survived every attack. The raw per-attack flags (was the adversarial image classified
// correctly?) are kept as measured.
import { summarize, type Summary } from './stats.ts';

export interface PerImageFlags {
  /** Global index of the first image; the flags cover images first … first + n − 1. */
  first: number;
  n: number;
  /** [seed][image]: the defence classifies the clean image correctly. */
  clean: boolean[][];
  /** [attack][seed][image]: the defence classifies the attack's final image correctly (not ANDed with clean). */
  attacks: Record<string, boolean[][]>;
  /** [attack][seed][image]: the same images scored on the attack's surrogate chain, where it differs from the defence. */
  surrogate?: Record<string, boolean[][]>;
}

export interface FlagSummaries {
  clean: Summary;
  /** Per attack: robust (clean correct ∧ attack failed). */
  robust: Record<string, Summary>;
  worstCase: Summary;
  /** Per attack: accuracy the surrogate chain gives the attack's images (not ANDed), where scored. */
  surrogate?: Record<string, Summary>;
}

const and = (a: boolean[], b: boolean[]) => a.map((v, i) => v && b[i]);
const fraction = (flags: boolean[]) => flags.filter(Boolean).length / flags.length;

/** [seed][image]: clean correct and robust to `attack`. */
export function robustFlags(f: PerImageFlags, attack: string): boolean[][] {
  return f.clean.map((clean, s) => and(clean, f.attacks[attack][s]));
}

/** [seed][image]: clean correct and robust to every attack. */
export function worstCaseFlags(f: PerImageFlags): boolean[][] {
  return f.clean.map((clean, s) => Object.values(f.attacks).reduce((acc, attack) => and(acc, attack[s]), clean));
}

export function summarizeFlags(f: PerImageFlags): FlagSummaries {
  const perSeed = (flags: boolean[][]) => summarize(flags.map(fraction));
  const byAttack = (flags: Record<string, boolean[][]>, of: (name: string) => boolean[][]) => Object.fromEntries(Object.keys(flags).map((name) => [name, perSeed(of(name))]));
  return {
    clean: perSeed(f.clean),
    robust: byAttack(f.attacks, (name) => robustFlags(f, name)),
    worstCase: perSeed(worstCaseFlags(f)),
    ...(f.surrogate && { surrogate: byAttack(f.surrogate, (name) => f.surrogate![name]) }),
  };
}

/**
 * Joins the flags of consecutive image ranges (shards) into one range. Refuses gaps, overlaps and
 * parts that measured different attacks or seeds, so a join cannot silently double-count or drop images.
 */
export function joinFlags(parts: PerImageFlags[]): PerImageFlags {
  if (!parts.length) throw new RangeError('joinFlags: no parts');
  const sorted = [...parts].sort((a, b) => a.first - b.first);
  const [head] = sorted;
  const attackKey = (f: PerImageFlags) => Object.keys(f.attacks).sort().join(',') + ' | ' + Object.keys(f.surrogate ?? {}).sort().join(',');
  let next = head.first;
  for (const part of sorted) {
    if (part.first !== next) throw new RangeError(`joinFlags: images ${next}–${part.first - 1} are ${part.first > next ? 'missing' : 'covered twice'} (a part starts at ${part.first})`);
    if (attackKey(part) !== attackKey(head)) throw new RangeError(`joinFlags: the part at image ${part.first} measured other attacks (${attackKey(part)} vs ${attackKey(head)})`);
    if (part.clean.length !== head.clean.length) throw new RangeError(`joinFlags: the part at image ${part.first} has ${part.clean.length} seeds, not ${head.clean.length}`);
    next += part.n;
  }
  const concat = (rows: (f: PerImageFlags) => boolean[][]) => head.clean.map((_, s) => sorted.flatMap((part) => rows(part)[s]));
  const joinRecord = (of: (f: PerImageFlags) => Record<string, boolean[][]> | undefined) => {
    const names = Object.keys(of(head) ?? {});
    return names.length ? Object.fromEntries(names.map((name) => [name, concat((part) => of(part)![name])])) : undefined;
  };
  const surrogate = joinRecord((f) => f.surrogate);
  return { first: head.first, n: next - head.first, clean: concat((f) => f.clean), attacks: joinRecord((f) => f.attacks) ?? {}, ...(surrogate && { surrogate }) };
}

/**
 * The flags of images first … last (global indices, inclusive) only: how a report leaves out images
 * it must not count (the ones a default was tuned on, say). Refuses a range the flags do not cover.
 */
export function sliceFlags(f: PerImageFlags, first: number, last: number): PerImageFlags {
  if (!(Number.isInteger(first) && Number.isInteger(last) && first <= last)) throw new RangeError(`sliceFlags: ${first}–${last} is not a range of image indices`);
  if (first < f.first || last >= f.first + f.n) throw new RangeError(`images ${first}–${last} are not all measured: the flags cover images ${f.first}–${f.first + f.n - 1}`);
  const cut = (rows: boolean[][]) => rows.map((seed) => seed.slice(first - f.first, last + 1 - f.first));
  const cutRecord = (r: Record<string, boolean[][]>) => Object.fromEntries(Object.entries(r).map(([name, rows]) => [name, cut(rows)]));
  return { first, n: last - first + 1, clean: cut(f.clean), attacks: cutRecord(f.attacks), ...(f.surrogate && { surrogate: cutRecord(f.surrogate) }) };
}
