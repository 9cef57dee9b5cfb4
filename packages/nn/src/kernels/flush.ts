// Flush to zero. x86 takes a microcode assist (~100× slower) for every float32 operation that
// reads or produces a subnormal number, and WebAssembly has no FTZ/DAZ mode to turn that off. A
// long run produces them in bulk: a confident classifier's softmax probabilities of e^−87/Σ, scaled
// by 1/batch, fill dlogits with subnormals, and the backward GEMMs slow down 10×; the optimizer's
// moments of parameters that get no gradient (dead units, always-zero pixels) decay geometrically
// until they are subnormal. So the kernels that write gradients and optimizer state flush tiny
// values to +0 where they arise:
//
// - first-order values (dlogits, activation and softmax backward passes, MSE gradients, softmax
//   outputs, sigmoid/GELU outputs, the optimizers' combined gradient g' and their first moments:
//   Adam's m, momentum buffers, centred RMSprop's mean gradient) below τ = 2^−50 ≈ 8.9e−16;
// - second moments (Adam's v, RMSprop's mean square), which are squares of the first, below τ².
//
// Why 2^−50: a kept value then stays far from the subnormal range through the operations that
// follow. g' ≥ τ gives g'² ≥ 2^−100 and (1 − β₂)·g'² ≥ 2^−124 for any float32 β₂ < 1; a softmax
// term ≥ τ over ≤ 2^14 classes and scaled by ≥ 2^−16 (batch ≤ 65,536) stays ≥ 2^−80, and the
// products of the next GEMM stay normal for weights down to 2^−46. And it changes nothing that
// float32 can represent in training: a gradient term below 2^−50 is under one ulp of any gradient
// sum it joins that holds a term of 2^−26 or more, and on its own it moves no weight (SGD moves a
// weight by lr·g; Adam's and RMSprop's steps are g/(√v + ε) with ε ≥ 1e−12 ≫ √(τ²)·… — a term of
// τ/ε ≤ 2^−10 of the learning rate at the very most, and ~1e−8 of it at the default ε).
//
// The rule is the same in the WASM kernels and their TypeScript twins: the value as stored in
// float32 is compared, |x| < τ → +0; NaN and ±∞ pass, so a diverging run still fails at the step
// that produced the NaN. Element-wise and independent of the thread count, it keeps T = 1…4 runs
// bit-identical.

/** τ: first-order values below it are flushed to zero; second moments below τ². A power of two. */
export const FLUSH_THRESHOLD = 2 ** -50;

/** x with |x| < tau replaced by +0 (NaN and ±∞ kept). Compare the float32 value: round x first. */
export function flushToZero(x: number, tau: number): number {
  return Math.abs(x) < tau ? 0 : x;
}
