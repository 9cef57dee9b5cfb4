// Seeded parameter initialisation (He / Glorot, uniform / normal), one RNG stream per tensor.
import type { CompiledModel } from './model.ts';
import type { Rng } from './rng.ts';

/** Fills the parameter block `out` (paramCount floats); padding stays zero. */
export function initializeParams(model: CompiledModel, rng: Rng, out: Float32Array): void {
  out.fill(0);
  for (const t of model.params) {
    const r = rng.split(t.name);
    const view = out.subarray(t.offset, t.offset + t.size);
    switch (t.init) {
      case 'zeros':
        break;
      case 'ones':
        view.fill(1);
        break;
      case 'he_uniform': {
        const limit = Math.sqrt(6 / t.fanIn);
        for (let i = 0; i < view.length; i++) view[i] = r.uniform(-limit, limit);
        break;
      }
      case 'glorot_uniform': {
        const limit = Math.sqrt(6 / (t.fanIn + t.fanOut));
        for (let i = 0; i < view.length; i++) view[i] = r.uniform(-limit, limit);
        break;
      }
      case 'he_normal':
        fillTruncatedNormal(view, r, Math.sqrt(2 / t.fanIn));
        break;
      case 'glorot_normal':
        fillTruncatedNormal(view, r, Math.sqrt(2 / (t.fanIn + t.fanOut)));
        break;
    }
  }
}

/** Keras' truncated normal: redraw beyond two standard deviations, rescaled to keep the variance. */
function fillTruncatedNormal(view: Float32Array, r: Rng, std: number): void {
  const s = std / 0.87962566103423978;
  for (let i = 0; i < view.length; i++) {
    let z = r.normal();
    while (Math.abs(z) > 2) z = r.normal();
    view[i] = z * s;
  }
}
