// The model card's attack suite (engine/eval/classifier-attacks.ts) on the shipped MNIST classifier:
// ε = 0 fools nothing (robust = clean), ε = 0.3 breaks the undefended net, more restarts can only
// remove images, an image misclassified clean never counts as robust, and more restarts continue a
// shorter run into exactly the longer one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadDataset } from '../../engine/data/datasets.ts';
import { cardAttacks, cleanCorrect, robustToAttack, type AttackTarget } from '../../engine/eval/classifier-attacks.ts';
import { loadClassifier } from '../../engine/models/catalog.ts';
import { getEngine } from '../helpers/gpu.ts';

const N = 24;

async function target(eps: number): Promise<AttackTarget | null> {
  const engine = await getEngine();
  if (!engine) return null;
  const data = loadDataset('mnist', 'test', { limit: N });
  return { engine, classifier: await loadClassifier(engine, 'mnist-cnn'), images: data.images, labels: data.labels, eps, seed: 3 };
}

const indices = Array.from({ length: N }, (_, i) => i);
const short = (kind: 'pgd' | 'apgd-ce' | 'apgd-dlr', restarts: number) => ({ ...cardAttacks(0.3, restarts).find((a) => a.kind === kind)!, steps: 10 });

test('ε = 0: no attack moves an image, so robust equals clean', async () => {
  const t = await target(0);
  if (!t) return;
  const clean = await cleanCorrect(t, indices);
  for (const kind of ['pgd', 'apgd-dlr'] as const) assert.equal(await robustToAttack(t, indices, clean, short(kind, 1)), clean, kind);
});

test('ε = 0.3 breaks the undefended classifier; restarts only remove images; clean mistakes never count', async () => {
  const t = await target(0.3);
  if (!t) return;
  const clean = await cleanCorrect(t, indices);
  // Pretend two correct images were misclassified clean: they must come back not robust.
  const pretend = clean.map((c, i) => c && i >= 2);
  for (const kind of ['pgd', 'apgd-ce'] as const) {
    const one = await robustToAttack(t, indices, pretend, short(kind, 1));
    const three = await robustToAttack(t, indices, pretend, short(kind, 3));
    const count = (f: boolean[]) => f.filter(Boolean).length;
    console.log(`    ${kind}-10: ${count(clean)}/${N} clean, ${count(one)} robust with 1 restart, ${count(three)} with 3`);
    assert.ok(count(one) <= N / 4, `${kind} breaks the bare classifier (${count(one)} of ${N} robust)`);
    assert.ok(three.every((r, i) => !r || one[i]), 'every image robust to 3 restarts is robust to the first');
    assert.ok(one.every((r, i) => !r || pretend[i]), 'no image counts as robust unless it was classified correctly');
  }
});

test('more restarts continue a shorter run into exactly the longer one (card --restarts N --resume)', async () => {
  const t = await target(0.3);
  if (!t) return;
  // The robust c_φ, so that images survive the first restarts and the later ones have work to do.
  const robustTarget = { ...t, classifier: await loadClassifier(t.engine, 'mnist-guidance') };
  const clean = await cleanCorrect(robustTarget, indices);
  const attack = { ...short('pgd', 4), steps: 10, stepSize: 0.075 };
  const whole = await robustToAttack(robustTarget, indices, clean, attack);
  const firstTwo = await robustToAttack(robustTarget, indices, clean, { ...attack, restarts: 2 });
  const continued = await robustToAttack(robustTarget, indices, firstTwo, attack, undefined, 2);
  const count = (f: boolean[]) => f.filter(Boolean).length;
  console.log(`    c_φ, PGD-10: ${count(clean)} clean, ${count(firstTwo)} robust after 2 restarts, ${count(whole)} after 4 (continued: ${count(continued)})`);
  assert.equal(continued, whole, 'restarts 2–3 on the survivors of 0–1 equal one run of 4');
});

test.run();
