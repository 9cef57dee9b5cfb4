// Draw a digit and see what the sweep's best model says: the model is exported by the API in the
// TensorFlow.js Layers format and run in the page by @hypersweep/nn's Predictor (WASM SIMD kernels on
// unshared memory); POST …/predict is the fallback when the browser cannot run it. Both take the
// drawing's raw 0–255 pixels (lib/playground.ts): the exported model carries its input scaling.
import { Predictor } from '@hypersweep/nn';
import type { SweepSummary } from '@hypersweep/schemas';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useApp } from '../app/context.tsx';
import { useAsync } from '../app/hooks.ts';
import { ErrorBanner, Loading } from '../components/ui.tsx';
import { MNIST_SIDE, base64ToBytes, rankClasses } from '../lib/digit.ts';
import { drawnPixels, inPage, viaApi } from '../lib/playground.ts';
import { OKABE_ITO } from '../lib/palette.ts';

const SIZE = 280;
const BRUSH = 20;

type Mode = 'browser' | 'api';

/** Strokes of sample digits in a 0..1 box, for a quick try without drawing (and keyboard users). */
const SAMPLES: Record<string, readonly (readonly [number, number])[][]> = {
  '0': [Array.from({ length: 33 }, (_, i) => [0.5 + 0.22 * Math.sin((i / 32) * 2 * Math.PI), 0.5 - 0.32 * Math.cos((i / 32) * 2 * Math.PI)] as const)],
  '1': [[[0.42, 0.28], [0.54, 0.18], [0.54, 0.82]]],
  '7': [[[0.28, 0.2], [0.72, 0.2], [0.45, 0.82]]],
};

export function PlaygroundPage({ sweepId: routeSweep, trialId: routeTrial }: { sweepId: string | null; trialId: string | null }) {
  const { api, navigate } = useApp();
  const sweeps = useAsync((signal) => api.listSweeps({ limit: 100 }, { signal }), [api]);
  const candidates: SweepSummary[] = (sweeps.data?.items ?? []).filter((s) => s.best !== null);
  const sweep = candidates.find((s) => s.id === routeSweep) ?? (routeSweep ? undefined : candidates[0]);
  const sweepId = routeSweep ?? sweep?.id ?? null;
  const trialId = routeTrial ?? sweep?.best?.trialId ?? null;

  const [mode, setMode] = useState<Mode>('browser');
  const [predictor, setPredictor] = useState<Predictor | null>(null);
  const [modelError, setModelError] = useState<unknown>(null);
  const [probabilities, setProbabilities] = useState<number[] | null>(null);
  const [predictError, setPredictError] = useState<unknown>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const drawing = useRef<{ x: number; y: number } | null>(null);
  const pending = useRef<number | null>(null);

  // Load the model into the page.
  useEffect(() => {
    setPredictor(null);
    setModelError(null);
    setProbabilities(null);
    if (!sweepId || !trialId) return undefined;
    const controller = new AbortController();
    (async () => {
      try {
        const exp = await api.exportModel(sweepId, trialId, { signal: controller.signal });
        const p = await Predictor.fromTfjs(exp.modelJson, base64ToBytes(exp.weightsBase64));
        if (!controller.signal.aborted) setPredictor(p);
      } catch (err) {
        if (!controller.signal.aborted) {
          setModelError(err);
          setMode('api');
        }
      }
    })();
    return () => controller.abort();
  }, [api, sweepId, trialId]);

  const predict = useCallback(async () => {
    const canvas = canvasRef.current;
    if (!canvas || !sweepId || !trialId) return;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const alpha = new Uint8ClampedArray(canvas.width * canvas.height);
    for (let i = 0; i < alpha.length; i++) alpha[i] = img.data[i * 4 + 3]!;
    const pixels = drawnPixels(alpha, canvas.width, canvas.height);
    if (!pixels) {
      setProbabilities(null);
      return;
    }
    try {
      const model = mode === 'browser' && predictor ? inPage(predictor) : viaApi((inputs) => api.predict(sweepId, trialId, inputs));
      setProbabilities(await model(pixels));
      setPredictError(null);
    } catch (err) {
      setPredictError(err);
    }
  }, [api, mode, predictor, sweepId, trialId]);

  const schedulePredict = useCallback(() => {
    if (pending.current !== null) return;
    pending.current = requestAnimationFrame(() => {
      pending.current = null;
      void predict();
    });
  }, [predict]);
  useEffect(() => () => {
    if (pending.current !== null) cancelAnimationFrame(pending.current);
  }, []);

  function pos(e: React.PointerEvent<HTMLCanvasElement>) {
    const rect = e.currentTarget.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) * SIZE) / rect.width, y: ((e.clientY - rect.top) * SIZE) / rect.height };
  }
  function stroke(from: { x: number; y: number }, to: { x: number; y: number }) {
    const ctx = canvasRef.current?.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    ctx.strokeStyle = '#000';
    ctx.lineWidth = BRUSH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }
  function clear() {
    const canvas = canvasRef.current;
    canvas?.getContext('2d', { willReadFrequently: true })?.clearRect(0, 0, canvas.width, canvas.height);
    setProbabilities(null);
  }
  function drawSample(digit: string) {
    clear();
    for (const path of SAMPLES[digit] ?? []) {
      for (let i = 1; i < path.length; i++) {
        stroke({ x: path[i - 1]![0] * SIZE, y: path[i - 1]![1] * SIZE }, { x: path[i]![0] * SIZE, y: path[i]![1] * SIZE });
      }
    }
    schedulePredict();
  }

  const ranked = probabilities ? rankClasses(probabilities) : [];
  const classNames = predictor?.classNames ?? null;
  const wrongShape = predictor && predictor.inputSize !== MNIST_SIDE * MNIST_SIDE;
  const modelState = predictor ? 'ready' : modelError ? 'unavailable' : 'loading';

  return (
    <main id="main" className="page playground">
      <div className="page-head">
        <h1>Playground</h1>
        <label>
          Sweep{' '}
          <select
            value={sweepId ?? ''}
            onChange={(e) => navigate(`/playground?sweep=${encodeURIComponent(e.target.value)}`, { replace: true })}
            data-testid="playground-sweep"
          >
            {!sweepId ? <option value="">—</option> : null}
            {sweepId && !candidates.some((s) => s.id === sweepId) ? <option value={sweepId}>{sweepId}</option> : null}
            {candidates.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} (best #{s.best!.number})
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner error={sweeps.error} onRetry={sweeps.reload} />
      {sweeps.loading && !sweeps.data ? <Loading what="sweeps" /> : null}
      {!sweeps.loading && !sweepId ? <p className="empty">No sweep has a best trial yet.</p> : null}
      {sweepId && trialId ? (
        <div className="playground-grid">
          <section className="panel" aria-labelledby="draw-heading">
            <h2 id="draw-heading">Draw a digit</h2>
            <canvas
              ref={canvasRef}
              width={SIZE}
              height={SIZE}
              className="draw"
              role="img"
              aria-label="Drawing area: draw a digit with the mouse, a pen or a finger"
              data-testid="draw-canvas"
              onPointerDown={(e) => {
                e.currentTarget.setPointerCapture(e.pointerId);
                const p = pos(e);
                drawing.current = p;
                stroke(p, p);
              }}
              onPointerMove={(e) => {
                if (!drawing.current) return;
                const p = pos(e);
                stroke(drawing.current, p);
                drawing.current = p;
                schedulePredict();
              }}
              onPointerUp={() => {
                drawing.current = null;
                schedulePredict();
              }}
              onPointerCancel={() => {
                drawing.current = null;
              }}
            />
            <div className="row">
              <button type="button" onClick={clear} data-testid="clear-canvas">
                Clear
              </button>
              <span>Sample:</span>
              {Object.keys(SAMPLES).map((d) => (
                <button key={d} type="button" onClick={() => drawSample(d)} data-testid={`sample-digit-${d}`} aria-label={`Draw a sample ${d}`}>
                  {d}
                </button>
              ))}
            </div>
            <fieldset className="mode" data-testid="predict-mode">
              <legend>Run the model</legend>
              <label>
                <input type="radio" name="mode" checked={mode === 'browser'} disabled={!predictor} onChange={() => setMode('browser')} data-testid="mode-browser" /> in this browser (WASM)
              </label>
              <label>
                <input type="radio" name="mode" checked={mode === 'api'} onChange={() => setMode('api')} data-testid="mode-api" /> on the API (POST …/predict)
              </label>
            </fieldset>
            <p className="hint" data-testid="model-status" data-state={modelState}>
              {modelState === 'loading' ? 'Loading the model…' : predictor ? `Model loaded: ${predictor.inputSize} inputs → ${predictor.outputSize} outputs.` : 'The model could not be loaded in the page; predictions use the API.'}
            </p>
            {modelError ? <ErrorBanner error={modelError} /> : null}
            {wrongShape ? <p className="field-error">This model takes {predictor.inputSize} inputs, not a 28×28 image.</p> : null}
          </section>
          <section className="panel" aria-labelledby="pred-heading">
            <h2 id="pred-heading">Prediction</h2>
            <ErrorBanner error={predictError} />
            {probabilities ? (
              <>
                <p className="prediction" data-testid="prediction" data-class={ranked[0]} aria-live="polite">
                  <strong>{classNames?.[ranked[0]!] ?? ranked[0]}</strong> ({((probabilities[ranked[0]!] ?? 0) * 100).toFixed(1)}%)
                </p>
                <ul className="bars" data-testid="probabilities">
                  {probabilities.map((p, i) => (
                    <li key={i} data-class={i} data-probability={p.toFixed(4)}>
                      <span className="bar-label">{classNames?.[i] ?? i}</span>
                      <span className="bar-track" aria-hidden="true">
                        <span className="bar-fill" style={{ width: `${(p * 100).toFixed(1)}%`, background: i === ranked[0] ? OKABE_ITO.vermillion : OKABE_ITO.blue }} />
                      </span>
                      <span className="bar-value">{(p * 100).toFixed(1)}%</span>
                    </li>
                  ))}
                </ul>
              </>
            ) : (
              <p className="hint">Draw a digit to see the class probabilities.</p>
            )}
          </section>
        </div>
      ) : null}
    </main>
  );
}
