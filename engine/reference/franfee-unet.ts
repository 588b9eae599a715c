// Float64 reference of the Franfee MNIST DDPM's ε-network, composed from the op references and
// written from the architecture as shared/data/README.md describes it (time table row → per-level
// time vectors added to the input; LayerNorm(C, H, W) → conv → ReLU → conv → + residual → ReLU
// blocks; the upsampled map zero-padded right/bottom-first to the skip's size, concatenated after
// the skip) rather than from engine/models/franfee-unet.ts, so the two check each other.
import type { FranfeeConfig } from '../models/franfee-unet.ts';
import { conv2d, convTranspose2d } from './conv.ts';
import { unary } from './elementwise.ts';
import { map, nd, type Nd } from './nd.ts';
import { add, linear, weight, type Weights } from './weights.ts';
import { layerNorm } from './norm.ts';
import { apply, concatChannels, pad2d } from './spatial.ts';

const relu = (x: Nd) => map(x, unary.relu.f);

const conv = (w: Weights, name: string, x: Nd, stride: number, padding: number) => conv2d(x, weight(w, `${name}.weight`), weight(w, `${name}.bias`), { stride, padding });
/** [N, C] per-sample vectors as [N, C, 1, 1], to broadcast over H and W. */
const perChannel = (v: Nd) => nd([...v.shape, 1, 1], v.data);

function block(w: Weights, name: string, x: Nd): Nd {
  const h = relu(conv(w, `${name}.conv1`, layerNorm(x, weight(w, `${name}.ln.weight`), weight(w, `${name}.ln.bias`)), 1, 1));
  const residual = w.has(`${name}.residual_conv.weight`) ? conv(w, `${name}.residual_conv`, x, 1, 0) : x;
  return relu(add(conv(w, `${name}.conv2`, h, 1, 1), residual));
}

export function franfeeRef(w: Weights, cfg: FranfeeConfig, x: Nd, t: number[]): Nd {
  const table = weight(w, 'pe.embedding.weight');
  const D = cfg.timeDim;
  const emb = nd([t.length, D], t.flatMap((step) => Array.from(table.data.subarray(step * D, (step + 1) * D))));
  const levels = cfg.channels.length - 1;
  const skips: Nd[] = [];
  let h = x;
  for (let i = 0; i < levels; i++) {
    const time = linear(w, `pe_linears_en.${i}.2`, relu(linear(w, `pe_linears_en.${i}.0`, emb)));
    h = block(w, `encoders.${i}.1`, block(w, `encoders.${i}.0`, add(h, perChannel(time))));
    skips.push(h);
    h = conv(w, `downs.${i}`, h, 2, 0);
  }
  h = block(w, 'mid.1', block(w, 'mid.0', add(h, perChannel(linear(w, 'pe_mid', emb)))));
  for (let j = 0; j < levels; j++) {
    const skip = skips.pop()!;
    const up = convTranspose2d(h, weight(w, `ups.${j}.weight`), weight(w, `ups.${j}.bias`), { stride: 2 });
    const dy = skip.shape[2] - up.shape[2];
    const dx = skip.shape[3] - up.shape[3];
    const fitted = apply(up, pad2d(up.shape, Math.floor(dy / 2), dy - Math.floor(dy / 2), Math.floor(dx / 2), dx - Math.floor(dx / 2)));
    const time = linear(w, `pe_linears_de.${j}`, emb);
    h = block(w, `decoders.${j}.1`, block(w, `decoders.${j}.0`, add(concatChannels([skip, fitted]), perChannel(time))));
  }
  return conv(w, 'conv_out', h, 1, 1);
}
