// Shape of the kernels whose invocations each walk many elements serially (a row of norm
// statistics or softmax, a run of elements, a parameter's gradient): no workgroup memory or
// barriers, which CPU Vulkan drivers run slowly.

/**
 * Invocations per workgroup. Small, because such kernels often have only a few hundred
 * invocations and a CPU driver runs each workgroup on one thread: 256-wide groups would leave
 * cores idle.
 */
export const SERIAL_WG = 16;

/** Serial sums add blocks of this many terms first, so rounding grows with n/BLOCK + BLOCK, not n. */
export const SUM_BLOCK = 64;
