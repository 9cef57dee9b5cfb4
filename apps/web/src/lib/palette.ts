// Colours: the Okabe–Ito palette, distinguishable with the common colour-vision deficiencies, and
// a fixed colour per trial state (always shown with its name, never by colour alone).
import type { TrialStatus, SweepStatus } from '@hypersweep/schemas';

export const OKABE_ITO = {
  black: '#000000',
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  bluishGreen: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  reddishPurple: '#CC79A7',
} as const;

/** Series colours in order (yellow last: weakest contrast on white). */
export const SERIES_COLORS: readonly string[] = [
  OKABE_ITO.blue, OKABE_ITO.vermillion, OKABE_ITO.bluishGreen, OKABE_ITO.reddishPurple, OKABE_ITO.orange, OKABE_ITO.skyBlue, OKABE_ITO.black, OKABE_ITO.yellow,
];

export const STATUS_COLORS: Readonly<Record<TrialStatus | SweepStatus, string>> = {
  pending: OKABE_ITO.skyBlue,
  queued: OKABE_ITO.skyBlue,
  running: OKABE_ITO.blue,
  paused: OKABE_ITO.reddishPurple,
  completed: OKABE_ITO.bluishGreen,
  stopped: OKABE_ITO.orange,
  failed: OKABE_ITO.vermillion,
  cancelled: '#777777',
};

/** The colour of the best trial; the rest of the top-K take SERIES_COLORS after it. */
export const BEST_COLOR = OKABE_ITO.vermillion;
export const MUTED_LINE = 'rgba(90, 90, 90, 0.18)';
