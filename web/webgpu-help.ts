// Why WebGPU is missing and how to get it, in one message a page can show as it is (null when
// navigator.gpu exists). Kept apart so the demo page can say it before loading any engine code.
const ENABLE = 'Use a current Chrome or Edge (on by default; on Linux enable chrome://flags/#enable-unsafe-webgpu and #enable-vulkan), Firefox 141+ or Safari 26+. Software adapters such as SwiftShader work too, slowly.';

/** When navigator.gpu exists but offers no adapter (blocklisted GPU, WebGPU switched off). */
export const NO_ADAPTER_HELP = `WebGPU is present but offers no adapter (GPU blocklisted or WebGPU disabled). ${ENABLE}`;

export function webGpuHelp(): string | null {
  if (typeof navigator !== 'undefined' && 'gpu' in navigator && navigator.gpu) return null;
  const secure = typeof isSecureContext === 'undefined' || isSecureContext;
  return secure
    ? `This browser has no WebGPU. ${ENABLE}`
    : 'WebGPU needs a secure context: open this page over https:// or from http://localhost or http://127.0.0.1.';
}
