// A fresh noise seed for every purification nobody gave a seed. A stochastic defence with a fixed
// default seed is a deterministic one for anyone who reads the code: its noise (keyed by seed and
// image index) can be replayed by the attacker. 53 bits from the platform's CSPRNG
// (globalThis.crypto: Node ≥ 20 and every browser with WebGPU), the most a noise key holds exactly.
export function randomSeed(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return (high & 0x1fffff) * 2 ** 32 + low;
}
