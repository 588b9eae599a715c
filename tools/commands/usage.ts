// What `purify --help` and `purify <command> --help` print. Kept apart from the commands so help
// loads no engine code and answers at once.
import { readFileSync } from 'node:fs';
import { packageFile } from '../../engine/package-files.ts';
import { PURIFY_DEFAULTS } from '../../engine/purify/defaults.ts';

const perMethod = (key: 'tStar' | 'scale') => Object.entries(PURIFY_DEFAULTS.methods).map(([m, d]) => `${m} ${d[key]}`).join(', ');

const DEVICE = `device options:
  --adapter NAME                a substring of the adapter name (or PURIFY_ADAPTER); see purify adapters
  --backend vulkan|...          pin Dawn's backend (or PURIFY_BACKEND)`;

const PURIFY = `purification options (defaults from engine/purify/defaults.ts, the same as the library and the browser page):
  --method agdm|diffpure|gdmp   default ${PURIFY_DEFAULTS.method}
  --tstar N                     diffusion depth t*; default ${perMethod('tStar')}
  --scale S                     guidance scale s; default ${perMethod('scale')}
  --steps N                     reverse steps (fewer than t* runs a DDIM subset); default t*
  --scale-schedule constant|snr default ${PURIFY_DEFAULTS.scaleSchedule}
  --seed N                      noise seed; default: a fresh random seed per run (printed and recorded)
  --repeats N                   purify N times, majority vote (demo, eval)
  --gdmp-distance mse|ssim      gdmp's distance; default mse
  --class-weight W --latent-weight W --latent logits|features --guide-input xt|x0hat   agdm's terms
  --denoiser NAME|FILE          default ${PURIFY_DEFAULTS.models.denoiser}
  --guidance NAME|FILE          agdm's c_φ; default ${PURIFY_DEFAULTS.models.guidance}`;

export interface CommandUsage {
  summary: string;
  /** Everything after the summary in `purify <command> --help`. */
  details?: string;
}

export const USAGE: Record<string, CommandUsage> = {
  adapters: { summary: 'adapters [--backend B]: list the WebGPU adapters and show which one is chosen' },
  bench: { summary: 'bench [--adapter NAME] [--filter TEXT] [--repeats N] [--json FILE] [--tfjs] [--torch] [--pool]: time kernels and model steps', details: DEVICE },
  convert: { summary: 'convert IN OUT [--f16] [--strip-prefix P]: any supported weight file → safetensors' },
  run: {
    summary: 'run IN.png... --out DIR [options]: purify image files, write DIR/<path>.purified.png and DIR/grid.png, print labels',
    details: `options:
  --out DIR                     created only once every input and model has been checked
  --fit                         convert colour to gray and resize to the model's size (default: refuse other sizes)
  --max-pixels N                refuse larger images before decoding them; default ${4096 * 4096}
  --classifier NAME|FILE|none   whose labels are printed; default ${PURIFY_DEFAULTS.models.classifier}
  --batch N                     images per GPU batch; default 64 (results do not depend on it)
  --json FILE                   also write the labels and options as JSON
  --workers N [--adapters A,B]  run on a pool of N GPU worker threads per adapter
Output names keep the inputs' paths relative to their common folder, so a/x.png and b/x.png become
DIR/a/x.purified.png and DIR/b/x.purified.png.

${PURIFY}

${DEVICE}`,
  },
  demo: {
    summary: 'demo [--n N] [--methods agdm,diffpure] [--json FILE] [--grid FILE] [--grid-n N]: attack MNIST with PGD, purify, compare',
    details: `options:
  --n N                         MNIST test images; default 16 (the package ships the first 256; PURIFY_DATA=DIR for more)
  --methods LIST                default agdm,diffpure
  --eps E --attack-steps K      PGD (L∞) on the bare classifier; default 0.3, 40
  --classifier NAME|FILE        default ${PURIFY_DEFAULTS.models.classifier}
  --grid FILE --grid-n N        default demo-out/demo-grid.png, 16 images
  --json FILE                   per-image predictions and the exact weights

${PURIFY}

${DEVICE}`,
  },
  sample: { summary: 'sample [--n 16] [--seed N] [--out FILE.png]: unconditional DDPM samples from pure noise (all T steps)', details: DEVICE },
  'serve-demo': { summary: 'serve-demo [--port P]: serve the WebGPU browser demo on 127.0.0.1' },
  eval: {
    summary: 'eval [--defense none,diffpure,gdmp,agdm] [--attack pgd-eot,bpda-eot,apgd-ce,...] [--norm linf|l2] [--eps E] [--steps K] [--eot K] [--n N] [--seeds S] [--shard K/N] [--json F] [--md F] [--grid F.png] | eval merge A.json B.json... [--json F] [--md F] [--notes N.md] [--partial] [--images FIRST-LAST] | eval curve A.json B.json... [--json F] [--md F]',
    details: `evaluation options:
  --steps K --eot K --step-size A   the attack's iterations, EOT samples per gradient, PGD step (default 2.5ε/K)
  --n N --seeds S --seed N          the first N test images; S seeds from N, each a new attack run (default 1 from 0)
  --score-draws K                   score every image under K draws of the defence's noise per seed (default 1):
                                    the defence's own spread on the same adversarial images, one purification each
  --purify-steps N --purify-eta E   the defence every adversarial image is scored on; default: full DDPM chains at the
                                    defaults above (t*, s), the shipped defence
  --attack-purify-steps N --attack-eta E --attack-tstar N
                                    a surrogate chain for the attacks to differentiate (e.g. 10 DDIM steps); its images
                                    are still scored on the defence, and the report shows the gap (accuracy on both,
                                    and the gradient cosine at the first --gap-n adversarial images; default 4)
  --shard K/N                       evaluate block K (0 … N−1) of the N image blocks; join with purify eval merge
  --checkpoint DIR                  finished batches (default: JSON.checkpoint next to --json); a rerun resumes
  --sanity-n N --examples N         sanity checks on the first N images (shard 0); grid examples
merge joins the shards of one run into the report the unsharded run writes, and renders several runs together.
curve tabulates one defence's runs at several (steps, EOT) on the same images and marks each budget whose next larger one
lowers accuracy by more than max(1 image, 1 %) as not converged.

${PURIFY}

${DEVICE}`,
  },
  card: {
    summary: 'card WEIGHTS [--n 1000] [--restarts 5] [--eps 0.3] [--seed S] [--only 1,3] [--curve F.jsonl[,G.jsonl]] [--json F] [--md F] [--resume]: a classifier\'s model card: clean accuracy on the test set, robust accuracy per image under PGD-40/100 (two step sizes) and APGD-CE/DLR',
    details: DEVICE,
  },
  train: {
    summary: 'train classifier|guidance|ddpm [--data mnist|fashion-mnist] [--epochs N] [--limit N] [--batch B] [--lr L] [--optimizer adam|adamw|sgd] [--weight-decay W] [--out FILE] [--resume] [--checkpoint-every U]; classifier|guidance: [--init FILE] [--shift PX] [--channels 16,32] [--hidden H] [--holdout N] [--curve-every U] [--curve-n N] [--trades-beta B] [--eps E] [--pgd-steps K] [--step-size A]; ddpm: [--init franfee-mnist|none] [--eval-n N]',
    details: DEVICE,
  },
};

export class UsageError extends Error {
  override name = 'UsageError';
}

export function version(): string {
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
}

export function usage(): string {
  const lines = Object.entries(USAGE).map(([name, u]) => `  ${name.padEnd(11)} ${u.summary.replace(/^\S+\s*/, '')}`);
  return `usage: purify <command> [options]   (purify <command> --help for its options; purify --version)\n\ncommands:\n${lines.join('\n')}`;
}

export function commandHelp(name: string): string {
  const u = USAGE[name];
  return `usage: purify ${u.summary}${u.details ? `\n\n${u.details}` : ''}`;
}

const wantsHelp = (argv: string[]) => argv.includes('--help') || argv.includes('-h');

/** Answers what needs no engine (help, version, bad command); returns null when a command must run. */
export function answerWithoutEngine(args: string[]): { code: number; out?: string; err?: string } | null {
  const [name, ...argv] = args;
  if (name === '--version' || name === '-v') return { code: 0, out: version() };
  if (!name || name === '--help' || name === '-h' || name === 'help') return { code: 0, out: usage() };
  if (!(name in USAGE)) return { code: 2, err: `purify: unknown command "${name}"\n\n${usage()}` };
  if (wantsHelp(argv)) return { code: 0, out: commandHelp(name) };
  return null;
}

export function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got "${value}"`);
  return n;
}
