// Your own weights: any supported file (safetensors, a PyTorch .pth/.pt zip or legacy checkpoint,
// .npz) for the denoiser, the guidance network or the classifier, by path. The architecture is
// recognised from the weight names (Franfee MNIST DDPM or diffusers DDPM UNet; MNIST CNNs; ResNets).
// Usage: node custom-checkpoint.mjs [DENOISER-FILE] [CLASSIFIER-FILE]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createPurifier } from 'purify-gpu';

const shipped = (file) => fileURLToPath(new URL(`../weights/${file}`, import.meta.url));
const denoiser = process.argv[2] ?? shipped('franfee-ddpm-mnist.safetensors');
const classifier = process.argv[3] ?? shipped('mnist-cnn.safetensors');
const purifier = await createPurifier({ method: 'diffpure', tStar: 10, denoiser, classifier, guidance: false });
try {
  const result = await purifier.purify(readFileSync(new URL('./digit-7.png', import.meta.url)));
  console.log(`${denoiser}: label after purification ${result.labels[0]}`);
} finally {
  purifier.close();
}
