// Parallel coordinates of parameters vs the objective on canvas: every trial a polyline, muted,
// with the top-K in colour and the best on top. Axis labels are HTML for readability.
import type { Trial } from '@hypersweep/schemas';
import { useEffect, useMemo, useRef } from 'react';
import { formatValue } from '../lib/chart.ts';
import { axisPosition, buildAxes, type Axis } from '../lib/parallel.ts';
import { BEST_COLOR, MUTED_LINE, OKABE_ITO } from '../lib/palette.ts';
import { useElementWidth } from './LineChart.tsx';

interface Props {
  readonly trials: readonly Trial[];
  readonly paramNames: readonly string[];
  readonly logParams: ReadonlySet<string>;
  readonly objectiveName: string;
  readonly objectiveOf: (t: Trial) => number | null;
  readonly topIds: ReadonlySet<string>;
  readonly bestId: string | null;
  readonly version: number;
}

const PAD = { top: 36, bottom: 30, left: 50, right: 50 };
const HEIGHT = 300;

function tickLabels(axis: Axis): [string, string] {
  if (axis.kind === 'category') return [axis.categories[0] ?? '', axis.categories[axis.categories.length - 1] ?? ''];
  return [formatValue(axis.min, 3), formatValue(axis.max, 3)];
}

export function ParallelCoords({ trials, paramNames, logParams, objectiveName, objectiveOf, topIds, bestId, version }: Props) {
  const [wrapRef, width] = useElementWidth<HTMLDivElement>();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const axes = useMemo(() => buildAxes(trials, paramNames, logParams, objectiveName, objectiveOf), [trials, paramNames, logParams, objectiveName, objectiveOf, version]);

  const xOf = (i: number) => PAD.left + (axes.length <= 1 ? 0 : (i * (width - PAD.left - PAD.right)) / (axes.length - 1));
  const yOf = (pos: number) => HEIGHT - PAD.bottom - pos * (HEIGHT - PAD.top - PAD.bottom);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width <= 0) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.floor(width * dpr);
    canvas.height = Math.floor(HEIGHT * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${HEIGHT}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);

    const line = (t: Trial) => {
      let started = false;
      axes.forEach((axis, i) => {
        const v = i === axes.length - 1 ? objectiveOf(t) : t.params[axis.name];
        const pos = axisPosition(axis, v);
        if (pos === null) {
          started = false;
          return;
        }
        if (!started) ctx.moveTo(xOf(i), yOf(pos));
        else ctx.lineTo(xOf(i), yOf(pos));
        started = true;
      });
    };
    const withValue = trials.filter((t) => objectiveOf(t) !== null);
    ctx.lineWidth = 1;
    ctx.strokeStyle = MUTED_LINE;
    ctx.beginPath();
    for (const t of withValue) if (!topIds.has(t.id)) line(t);
    ctx.stroke();
    ctx.strokeStyle = OKABE_ITO.blue;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (const t of withValue) if (topIds.has(t.id) && t.id !== bestId) line(t);
    ctx.stroke();
    const best = withValue.find((t) => t.id === bestId);
    if (best) {
      ctx.strokeStyle = BEST_COLOR;
      ctx.lineWidth = 3;
      ctx.beginPath();
      line(best);
      ctx.stroke();
    }
    ctx.strokeStyle = '#444';
    ctx.lineWidth = 1;
    axes.forEach((_a, i) => {
      ctx.beginPath();
      ctx.moveTo(Math.round(xOf(i)) + 0.5, PAD.top);
      ctx.lineTo(Math.round(xOf(i)) + 0.5, HEIGHT - PAD.bottom);
      ctx.stroke();
    });
  });

  return (
    <figure className="chart parcoords" ref={wrapRef} data-testid="parallel-coordinates">
      <canvas ref={canvasRef} role="img" aria-label={`Parallel coordinates of ${paramNames.join(', ')} against ${objectiveName}; the best trial is the thick line, the top trials are blue`} />
      {width > 0
        ? axes.map((axis, i) => {
            const [lo, hi] = tickLabels(axis);
            return (
              <div key={axis.name} className="pc-axis" style={{ left: xOf(i) }}>
                <strong style={{ top: 2 }}>
                  {axis.name}
                  {axis.kind === 'log' ? ' (log)' : ''}
                </strong>
                {axis.kind === 'category' && axis.categories.length > 2 ? (
                  axis.categories.map((c) => (
                    <span key={c} className="pc-category" style={{ top: yOf(axisPosition(axis, c) ?? 0) - 8, left: 6 }}>
                      {c}
                    </span>
                  ))
                ) : (
                  <>
                    <span style={{ top: PAD.top - 16 }}>{hi}</span>
                    <span style={{ top: HEIGHT - PAD.bottom + 4 }}>{lo}</span>
                  </>
                )}
              </div>
            );
          })
        : null}
    </figure>
  );
}
