// Plain float64 arrays with a shape: the representation every reference op works on.

export interface Nd {
  shape: number[];
  data: Float64Array;
}

export function nd(shape: number[], data?: ArrayLike<number>): Nd {
  const size = shape.reduce((a, b) => a * b, 1);
  const d = data ? Float64Array.from(data) : new Float64Array(size);
  if (d.length !== size) throw new RangeError(`nd: ${d.length} values for shape [${shape}]`);
  return { shape: [...shape], data: d };
}

export function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export const map = (x: Nd, f: (v: number, i: number) => number): Nd => nd(x.shape, Array.from(x.data, f));
