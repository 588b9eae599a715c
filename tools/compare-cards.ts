// Two classifier model cards (`purify card … --json`) compared image by image: per attack row both
// cards share, and for the worst case over those rows and for clean accuracy on the same images,
// each card's accuracy with its Wilson 95 % interval, the images only one card got right, and the
// exact McNemar p. Cards must cover the same test images at the same ε. Prints a markdown table.
// Usage: node --import tsx tools/compare-cards.ts A.card.json B.card.json [--names A,B]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pairedMcnemar, percentWithInterval } from '../engine/eval/stats.ts';

interface CardImage {
  index: number;
  clean: boolean;
  [attack: string]: boolean | number | null;
}
interface CardJson {
  weights: string;
  sha256: string;
  eps: number;
  n: number;
  restarts: number;
  perImage: CardImage[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { names: { type: 'string' } } });
if (positionals.length !== 2) throw new Error('usage: tools/compare-cards.ts A.card.json B.card.json [--names A,B]');
const cards = positionals.map((path) => {
  const card = JSON.parse(readFileSync(path, 'utf8')) as CardJson;
  if (!Array.isArray(card.perImage)) throw new Error(`${path}: no perImage flags (an unfinished card? finish it with purify card --resume)`);
  return card;
});
const [a, b] = cards;
if (a.eps !== b.eps || a.n !== b.n || a.perImage.some((img, i) => img.index !== b.perImage[i]?.index)) {
  throw new Error(`the cards cover different images or radii (ε ${a.eps} / ${b.eps}, n ${a.n} / ${b.n})`);
}
const names = values.names?.split(',') ?? cards.map((c) => c.weights);
const attacks = Object.keys(a.perImage[0]).filter((k) => k !== 'index' && k !== 'label' && k !== 'clean' && k in b.perImage[0]);
const flags = (card: CardJson, attack: string) =>
  card.perImage.map((img) => {
    const v = img[attack];
    if (typeof v !== 'boolean') throw new Error(`${card.weights}: image ${img.index} has no ${attack} result`);
    return v;
  });
const worst = (card: CardJson) => card.perImage.map((img) => img.clean && attacks.every((k) => img[k] === true));

const rows: [string, boolean[], boolean[]][] = [
  ['clean (these images)', a.perImage.map((i) => i.clean), b.perImage.map((i) => i.clean)],
  ...attacks.map((k): [string, boolean[], boolean[]] => [k, flags(a, k), flags(b, k)]),
  ['worst case over the rows above', worst(a), worst(b)],
];
console.log(`${names[0]} (restarts ${a.restarts}, sha256 ${a.sha256.slice(0, 12)}) against ${names[1]} (restarts ${b.restarts}, sha256 ${b.sha256.slice(0, 12)}), first ${a.n} test images, L∞ ε = ${a.eps}\n`);
console.log(`| row | ${names[0]} | ${names[1]} | only ${names[0]} / only ${names[1]} | exact McNemar p |`);
console.log('|---|---|---|---|---|');
for (const [row, fa, fb] of rows) {
  const paired = pairedMcnemar(fa, fb);
  const count = (f: boolean[]) => f.filter(Boolean).length;
  console.log(`| ${row} | ${percentWithInterval(count(fa), fa.length)} | ${percentWithInterval(count(fb), fb.length)} | ${paired.onlyFirst} / ${paired.onlySecond} | ${paired.p.toPrecision(2)} |`);
}
