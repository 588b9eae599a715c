// He et al.'s CIFAR ResNets as published by akamaster (BSD-2; shared/data/weights/
// akamaster-resnet-cifar10): conv3×3 16 → BN → ReLU, three stages of n basic blocks (16, 32, 64
// channels, stride 2 entering stages 2 and 3), "option A" shortcuts (every other pixel, zero-padded
// channels), global average pool, linear 64 → 10. BatchNorm in inference mode.
import { add, fromArray, linear, relu, sub, div } from '../ops/index.ts';
import { conv2d } from '../ops/conv.ts';
import { padChannels, subsample2x } from '../ops/layout.ts';
import { batchNormInference } from '../ops/norm.ts';
import { globalAvgPool } from '../ops/pool.ts';
import { ParamSpecs, fanInUniform, type Params } from '../nn/params.ts';
import type { Tensor } from '../tensor.ts';
import type { Classifier } from './types.ts';

export const CIFAR_MEAN = [0.485, 0.456, 0.406];
export const CIFAR_STD = [0.229, 0.224, 0.225];

function addConvBn(s: ParamSpecs, conv: string, bn: string, inC: number, outC: number): void {
  s.add(`${conv}.weight`, [outC, inC, 3, 3], fanInUniform(inC * 9));
  s.add(`${bn}.weight`, [outC], 'ones');
  s.add(`${bn}.bias`, [outC], 'zeros');
  s.add(`${bn}.running_mean`, [outC], 'zeros', false);
  s.add(`${bn}.running_var`, [outC], 'ones', false);
}

export function resnetCifarSpecs(blocksPerStage: number): ParamSpecs {
  const s = new ParamSpecs();
  addConvBn(s, 'conv1', 'bn1', 3, 16);
  let inC = 16;
  [16, 32, 64].forEach((c, stage) => {
    for (let b = 0; b < blocksPerStage; b++) {
      const name = `layer${stage + 1}.${b}`;
      addConvBn(s, `${name}.conv1`, `${name}.bn1`, inC, c);
      addConvBn(s, `${name}.conv2`, `${name}.bn2`, c, c);
      inC = c;
    }
  });
  s.add('linear.weight', [10, 64], fanInUniform(64));
  s.add('linear.bias', [10], fanInUniform(64));
  return s;
}

function convBn(p: Params, conv: string, bn: string, x: Tensor, stride: number): Tensor {
  const h = conv2d(x, p.get(`${conv}.weight`), undefined, { stride, padding: 1 });
  return batchNormInference(h, p.get(`${bn}.running_mean`), p.get(`${bn}.running_var`), p.get(`${bn}.weight`), p.get(`${bn}.bias`), 1e-5);
}

export function resnetCifar(p: Params, blocksPerStage: number, name: string): Classifier {
  const engine = p.engine;
  const mean = engine.keep(fromArray(engine, CIFAR_MEAN, [1, 3, 1, 1], 'cifar mean'));
  const std = engine.keep(fromArray(engine, CIFAR_STD, [1, 3, 1, 1], 'cifar std'));
  const features = (x: Tensor) => {
    let h = relu(convBn(p, 'conv1', 'bn1', div(sub(x, mean), std), 1));
    let inC = 16;
    [16, 32, 64].forEach((c, stage) => {
      for (let b = 0; b < blocksPerStage; b++) {
        const block = `layer${stage + 1}.${b}`;
        const stride = stage > 0 && b === 0 ? 2 : 1;
        const out = convBn(p, `${block}.conv2`, `${block}.bn2`, relu(convBn(p, `${block}.conv1`, `${block}.bn1`, h, stride)), 1);
        const shortcut = inC !== c ? padChannels(subsample2x(h), (c - inC) / 2, (c - inC) / 2) : h;
        h = relu(add(out, shortcut));
        inC = c;
      }
    });
    const pooled = globalAvgPool(h);
    return { features: pooled, logits: linear(pooled, p.get('linear.weight'), p.get('linear.bias')) };
  };
  return { name, imageShape: [3, 32, 32], classes: 10, params: p, logits: (x) => features(x).logits, features };
}
