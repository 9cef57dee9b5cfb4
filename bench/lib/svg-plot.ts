// A hand-written SVG of best-so-far curves: one panel per objective, log-scale regret on the y axis.

export interface PlotSeries {
  readonly label: string;
  readonly color: string;
  /** y per x = 1, 2, …; values ≤ 0 are drawn at the floor of the axis. */
  readonly values: readonly number[];
}

export interface PlotPanel {
  readonly title: string;
  readonly series: readonly PlotSeries[];
  /** A horizontal reference line (e.g. random search's median best after 100 trials). */
  readonly reference?: { readonly label: string; readonly value: number };
}

const W = 360;
const H = 280;
const M = { left: 56, right: 12, top: 28, bottom: 40 };

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(p: PlotPanel, x0: number): string {
  const all = p.series.flatMap((s) => s.values).filter((v) => v > 0);
  if (p.reference && p.reference.value > 0) all.push(p.reference.value);
  const lo = Math.floor(Math.log10(Math.min(...all)));
  const hi = Math.ceil(Math.log10(Math.max(...all)));
  const n = Math.max(...p.series.map((s) => s.values.length));
  const px = (i: number) => x0 + M.left + ((i - 1) / Math.max(1, n - 1)) * (W - M.left - M.right);
  const py = (v: number) => {
    const l = Math.log10(Math.max(v, 10 ** lo));
    return M.top + (1 - (l - lo) / Math.max(1, hi - lo)) * (H - M.top - M.bottom);
  };
  const parts: string[] = [];
  parts.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${escape(p.title)}</text>`);
  parts.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`);
  for (let e = lo; e <= hi; e++) {
    const y = py(10 ** e).toFixed(1);
    parts.push(`<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 + M.left - 4}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="10">1e${e}</text>`);
  }
  for (const t of [1, 25, 50, 75, 100].filter((t) => t <= n)) {
    parts.push(`<text x="${px(t).toFixed(1)}" y="${H - M.bottom + 14}" text-anchor="middle" font-size="10">${t}</text>`);
  }
  parts.push(`<text x="${x0 + W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">trials</text>`);
  parts.push(`<text x="${x0 + 12}" y="${H / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 ${x0 + 12} ${H / 2})">regret (median best − min)</text>`);
  if (p.reference) {
    const y = py(p.reference.value).toFixed(1);
    parts.push(`<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="4 3"/>`);
  }
  p.series.forEach((s, k) => {
    const d = s.values.map((v, i) => `${i === 0 ? 'M' : 'L'}${px(i + 1).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`);
    const ly = M.top + 12 + k * 14;
    parts.push(`<line x1="${x0 + W - M.right - 110}" x2="${x0 + W - M.right - 94}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<text x="${x0 + W - M.right - 90}" y="${ly}" dominant-baseline="middle" font-size="10">${escape(s.label)}</text>`);
  });
  if (p.reference) {
    const ly = M.top + 12 + p.series.length * 14;
    parts.push(`<line x1="${x0 + W - M.right - 110}" x2="${x0 + W - M.right - 94}" y1="${ly}" y2="${ly}" stroke="#888" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x0 + W - M.right - 90}" y="${ly}" dominant-baseline="middle" font-size="10">${escape(p.reference.label)}</text>`);
  }
  return parts.join('\n');
}

/** Panels side by side in one SVG document. */
export function renderPanels(panels: readonly PlotPanel[]): string {
  const width = W * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif">`,
    `<rect width="${width}" height="${H}" fill="white"/>`,
    ...panels.map((p, i) => panel(p, i * W)),
    '</svg>',
    '',
  ].join('\n');
}
