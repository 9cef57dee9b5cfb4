// A canvas line chart for many series (all trials of a sweep): muted series are batched into one
// path per style, highlighted ones drawn on top; long series are LTTB-downsampled to the pixels
// available. Hover shows the nearest series; click picks it.
import { useEffect, useMemo, useRef, useState } from 'react';
import { extentOf, formatValue, logTicks, lttb, makeScale, niceTicks, padExtent, type Point, type Scale } from '../lib/chart.ts';

export interface ChartSeries {
  readonly id: string;
  readonly points: readonly Point[];
  readonly color: string;
  readonly width?: number;
  readonly label?: string;
  /** Dots at each point (optimisation history). */
  readonly markers?: boolean;
  /** Draw as a step curve (best so far). */
  readonly step?: boolean;
}

interface Props {
  readonly series: readonly ChartSeries[];
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logY?: boolean;
  readonly height?: number;
  readonly ariaLabel: string;
  readonly testId: string;
  /** x is a count (epochs, trial numbers): ticks only at integers. */
  readonly integerX?: boolean;
  readonly onPick?: (id: string) => void;
  /** Changes whenever the points change in place (the store mutates arrays). */
  readonly version?: number;
}

const MARGIN = { top: 12, right: 16, bottom: 38, left: 62 };

export function useElementWidth<T extends HTMLElement>(): [React.RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    setWidth(el.clientWidth);
    const ro = new ResizeObserver((entries) => {
      for (const e of entries) setWidth(Math.floor(e.contentRect.width));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width];
}

interface Layout {
  readonly x: Scale;
  readonly y: Scale;
  readonly drawn: { series: ChartSeries; points: Point[] }[];
}

export function LineChart({ series, xLabel, yLabel, logY = false, height = 280, ariaLabel, testId, integerX = false, onPick, version }: Props) {
  const [wrapRef, width] = useElementWidth<HTMLDivElement>();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<{ x: number; y: number; label: string } | null>(null);

  const layout = useMemo<Layout | null>(() => {
    if (width <= 0) return null;
    const plotW = Math.max(10, width - MARGIN.left - MARGIN.right);
    const maxPoints = Math.max(3, Math.floor(plotW));
    const drawn = series.map((s) => {
      const finite = s.points.filter((p) => Number.isFinite(p.y) && (!logY || p.y > 0));
      return { series: s, points: finite.length > maxPoints ? lttb(finite, maxPoints) : finite };
    });
    const xs = extentOf(drawn.flatMap((d) => d.points.map((p) => p.x)));
    const ys = extentOf(drawn.flatMap((d) => d.points.map((p) => p.y)));
    if (!xs || !ys) return { x: makeScale({ min: 0, max: 1 }, [MARGIN.left, width - MARGIN.right]), y: makeScale({ min: 0, max: 1 }, [height - MARGIN.bottom, MARGIN.top]), drawn: [] };
    const xDomain = xs.max > xs.min ? xs : padExtent(xs);
    return {
      x: makeScale(xDomain, [MARGIN.left, width - MARGIN.right]),
      y: makeScale(padExtent(ys, 0.05, logY), [height - MARGIN.bottom, MARGIN.top], logY),
      drawn,
    };
    // `version` invalidates when arrays were mutated in place.
  }, [series, width, height, logY, version]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !layout) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.floor(width * dpr);
    canvas.height = Math.floor(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    drawAxes(ctx, layout, width, height, xLabel, yLabel, integerX);

    // Batch series that share a style into one path: 1,000 muted trials cost one stroke.
    const groups = new Map<string, { series: ChartSeries; points: Point[] }[]>();
    for (const d of layout.drawn) {
      const key = `${d.series.color}|${d.series.width ?? 1}|${d.series.step ? 1 : 0}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(d);
    }
    ctx.save();
    ctx.beginPath();
    // A few pixels beyond the plot area, so markers on its edges (a trial stopped after its first
    // epoch is a single dot at x = 1) are drawn whole rather than cut in half.
    const pad = 4;
    ctx.rect(MARGIN.left - pad, MARGIN.top - pad, width - MARGIN.left - MARGIN.right + 2 * pad, height - MARGIN.top - MARGIN.bottom + 2 * pad);
    ctx.clip();
    ctx.lineJoin = 'round';
    for (const group of groups.values()) {
      const first = group[0]!.series;
      ctx.strokeStyle = first.color;
      ctx.lineWidth = first.width ?? 1;
      // Width 0: markers only (a canvas ignores lineWidth 0 and would keep the previous width).
      const stroked = (first.width ?? 1) > 0;
      if (stroked) ctx.beginPath();
      for (const { points, series: s } of stroked ? group : []) {
        points.forEach((p, i) => {
          const px = layout.x(p.x);
          const py = layout.y(p.y);
          if (i === 0) ctx.moveTo(px, py);
          else if (s.step) {
            ctx.lineTo(px, layout.y(points[i - 1]!.y));
            ctx.lineTo(px, py);
          } else ctx.lineTo(px, py);
        });
      }
      if (stroked) ctx.stroke();
      for (const { points, series: s } of group) {
        if (!s.markers && points.length !== 1) continue;
        ctx.fillStyle = s.color;
        for (const p of points) {
          ctx.beginPath();
          ctx.arc(layout.x(p.x), layout.y(p.y), s.markers ? 2.5 : 2, 0, Math.PI * 2);
          ctx.fill();
        }
      }
    }
    ctx.restore();
  }, [layout, width, height, xLabel, yLabel, integerX]);

  function nearest(ev: React.MouseEvent<HTMLCanvasElement>): { series: ChartSeries; point: Point } | null {
    if (!layout) return null;
    const rect = ev.currentTarget.getBoundingClientRect();
    const mx = ev.clientX - rect.left;
    const my = ev.clientY - rect.top;
    let best: { series: ChartSeries; point: Point } | null = null;
    let bestD = 64; // 8 px radius, squared
    // Highlighted series last in the list win ties: scan from the top of the drawing order.
    for (let k = layout.drawn.length - 1; k >= 0; k--) {
      const d = layout.drawn[k]!;
      for (const p of d.points) {
        const dx = layout.x(p.x) - mx;
        const dy = layout.y(p.y) - my;
        const dist = dx * dx + dy * dy;
        if (dist < bestD) {
          bestD = dist;
          best = { series: d.series, point: p };
        }
      }
    }
    return best;
  }

  return (
    <figure className="chart" ref={wrapRef} data-testid={testId}>
      <canvas
        ref={canvasRef}
        role="img"
        aria-label={ariaLabel}
        onMouseMove={(e) => {
          const n = nearest(e);
          const rect = e.currentTarget.getBoundingClientRect();
          setHover(n ? { x: e.clientX - rect.left, y: e.clientY - rect.top, label: `${n.series.label ?? n.series.id}: ${xLabel} ${formatValue(n.point.x)}, ${yLabel} ${formatValue(n.point.y)}` } : null);
        }}
        onMouseLeave={() => setHover(null)}
        onClick={(e) => {
          const n = nearest(e);
          if (n && onPick) onPick(n.series.id);
        }}
        style={{ cursor: onPick ? 'pointer' : 'default' }}
      />
      {hover ? (
        <div className="chart-tooltip" style={{ left: Math.min(hover.x + 12, Math.max(0, width - 220)), top: hover.y + 12 }} role="tooltip">
          {hover.label}
        </div>
      ) : null}
      {layout && layout.drawn.length === 0 ? <p className="chart-empty">No data yet</p> : null}
    </figure>
  );
}

function drawAxes(ctx: CanvasRenderingContext2D, layout: Layout, width: number, height: number, xLabel: string, yLabel: string, integerX: boolean) {
  const { x, y } = layout;
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#333';
  ctx.strokeStyle = '#e3e3e3';
  ctx.lineWidth = 1;
  const yTicks = y.log ? logTicks(y.domain.min, y.domain.max) : niceTicks(y.domain.min, y.domain.max, 5);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const t of yTicks) {
    const py = Math.round(y(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, py);
    ctx.lineTo(width - MARGIN.right, py);
    ctx.stroke();
    ctx.fillText(formatValue(t, 3), MARGIN.left - 6, py);
  }
  let xTicks = niceTicks(x.domain.min, x.domain.max, Math.max(2, Math.floor((width - MARGIN.left) / 80)));
  if (integerX) xTicks = xTicks.filter(Number.isInteger);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const t of xTicks) {
    const px = Math.round(x(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(px, MARGIN.top);
    ctx.lineTo(px, height - MARGIN.bottom);
    ctx.stroke();
    ctx.fillText(formatValue(t, 4), px, height - MARGIN.bottom + 4);
  }
  ctx.strokeStyle = '#888';
  ctx.beginPath();
  ctx.moveTo(MARGIN.left + 0.5, MARGIN.top);
  ctx.lineTo(MARGIN.left + 0.5, height - MARGIN.bottom + 0.5);
  ctx.lineTo(width - MARGIN.right, height - MARGIN.bottom + 0.5);
  ctx.stroke();
  ctx.fillText(xLabel, MARGIN.left + (width - MARGIN.left - MARGIN.right) / 2, height - 16);
  ctx.save();
  ctx.translate(12, MARGIN.top + (height - MARGIN.top - MARGIN.bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'middle';
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
}
