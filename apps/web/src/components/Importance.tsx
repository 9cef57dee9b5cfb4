// Hyperparameter importance as labelled bars (HTML, so screen readers read the numbers), from
// permutation importance on a random forest fitted to the finished trials, computed off the
// render path and only when the set of finished trials changes.
import type { Trial } from '@hypersweep/schemas';
import { useEffect, useState } from 'react';
import { permutationImportance, type ParamImportance } from '../lib/forest.ts';
import { OKABE_ITO } from '../lib/palette.ts';

const MIN_TRIALS = 8;
/**
 * The forest is fitted on at most this many trials, evenly spaced over the finished ones: the cost
 * grows faster than linearly (1,000 trials took ~200 ms, one long main-thread task; 400 take ~50 ms).
 */
const MAX_FIT = 400;

export function Importance({ trials, paramNames, objectiveOf, finishedKey }: { trials: readonly Trial[]; paramNames: readonly string[]; objectiveOf: (t: Trial) => number | null; finishedKey: string }) {
  const [result, setResult] = useState<{ items: ParamImportance[]; n: number } | null>(null);
  const finished = trials.filter((t) => (t.status === 'completed' || t.status === 'stopped') && objectiveOf(t) !== null);

  useEffect(() => {
    if (finished.length < MIN_TRIALS) {
      setResult(null);
      return undefined;
    }
    // Deferred so a burst of completions recomputes once, after the page has painted.
    const timer = setTimeout(() => {
      const fit = finished.length <= MAX_FIT ? finished : Array.from({ length: MAX_FIT }, (_, i) => finished[Math.floor((i * finished.length) / MAX_FIT)]!);
      const values = fit.map((t) => objectiveOf(t)!);
      const items = permutationImportance(fit.map((t) => t.params), values, paramNames, { trees: 48, seed: 1 });
      setResult({ items: [...items].sort((a, b) => b.share - a.share), n: fit.length });
    }, 300);
    return () => clearTimeout(timer);
    // finishedKey stands for the finished trials and their values.
  }, [finishedKey, paramNames]);

  return (
    <section className="panel" aria-labelledby="importance-heading" data-testid="importance">
      <h2 id="importance-heading">Hyperparameter importance</h2>
      {!result ? (
        <p className="hint">Needs at least {MIN_TRIALS} finished trials with an objective value ({finished.length} so far).</p>
      ) : (
        <>
          <ul className="bars">
            {result.items.map((i) => (
              <li key={i.name} data-testid="importance-item" data-param={i.name} data-share={i.share.toFixed(4)}>
                <span className="bar-label">{i.name}</span>
                <span className="bar-track" aria-hidden="true">
                  <span className="bar-fill" style={{ width: `${(i.share * 100).toFixed(1)}%`, background: OKABE_ITO.blue }} />
                </span>
                <span className="bar-value">{(i.share * 100).toFixed(0)}%</span>
              </li>
            ))}
          </ul>
          <p className="hint">Permutation importance (out-of-bag) of a 48-tree random forest fitted on {result.n === finished.length ? '' : 'an evenly spaced sample of '}{result.n} finished trials.</p>
        </>
      )}
    </section>
  );
}
