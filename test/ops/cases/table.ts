// The whole op-test table, for the stress run (tools/stress-ops.ts); the test files run it by family.
import type { OpCase } from '../../helpers/op-case.ts';
import { BINARY_CASES } from './binary.ts';
import { CONV_CASES } from './conv.ts';
import { DIFFUSION_STEP_CASES } from './diffusion-step.ts';
import { EMBEDDING_CASES } from './embedding.ts';
import { LOSS_CASES } from './losses.ts';
import { MATMUL_CASES } from './matmul.ts';
import { NORM_CASES } from './norm.ts';
import { REDUCE_CASES } from './reduce.ts';
import { ATTENTION_CASES, SOFTMAX_CASES } from './softmax.ts';
import { SPATIAL_CASES } from './spatial.ts';
import { UNARY_CASES } from './unary.ts';

export const OP_TABLE: OpCase[] = [
  ...CONV_CASES, ...UNARY_CASES, ...BINARY_CASES, ...REDUCE_CASES, ...MATMUL_CASES, ...DIFFUSION_STEP_CASES,
  ...NORM_CASES, ...SOFTMAX_CASES, ...ATTENTION_CASES, ...LOSS_CASES, ...SPATIAL_CASES, ...EMBEDDING_CASES,
];
