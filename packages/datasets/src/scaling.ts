// The input-scaling choice of the loaders: how raw features become model inputs.
import { DatasetError } from './errors.ts';

/**
 * 'standardize': (x − mean) / std with the training split's statistics (the default);
 * 'unit': uint8 images as pixel / 255 in [0, 1] (images only);
 * 'none': features as given (raw 0–255 pixels, CSV values unchanged).
 */
export type Scaling = 'standardize' | 'unit' | 'none';

/** Refuses a scaling outside `allowed` with INVALID_OPTION naming the option and the choices. */
export function checkScaling<S extends Scaling>(value: unknown, allowed: readonly S[], what: string): S {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as S;
  const hint = value === 'unit' ? " ('unit' maps uint8 pixels to [0, 1]: it is for image datasets)" : '';
  throw new DatasetError(
    'INVALID_OPTION',
    `scaling ${JSON.stringify(value)} is not available for ${what}; it accepts ${allowed.map((s) => `'${s}'`).join(', ')}${hint}`,
  );
}
