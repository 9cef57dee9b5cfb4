// Flush to zero (src/kernels/flush.ts): the WASM kernels and their TypeScript twin flush exactly the
// same stored values; with the flush on no kernel writes a subnormal where, off, it does; and on
// runs that reach the subnormal regime the flush changes no loss above float32 resolution.
import { describe, expect, it } from 'vitest';
import { createKernels } from '../src/backend.ts';
import { FLUSH_THRESHOLD } from '../src/kernels/flush.ts';
import type { Kernels, Ptr } from '../src/kernels/types.ts';
import { createMemory } from '../src/memory.ts';
import { Rng } from '../src/rng.ts';
import { quadrants } from '../src/testing.ts';
import { TrainingSession, type TrainOptions } from '../src/train.ts';

const TAU = FLUSH_THRESHOLD;
const SMALLEST_NORMAL = 2 ** -126;

function isSubnormal(x: number): boolean {
  return x !== 0 && Math.abs(x) < SMALLEST_NORMAL;
}

function countSubnormals(a: Float32Array): number {
  let n = 0;
  for (const x of a) if (isSubnormal(x)) n++;
  return n;
}

/** One memory and both kernel implementations on it, for a kernel run twice from the same bytes. */
async function pair(bytes = 1 << 16): Promise<{ memory: WebAssembly.Memory; wasm: Kernels; twin: Kernels }> {
  const memory = createMemory(bytes, false);
  return { memory, wasm: await createKernels(memory), twin: await createKernels(memory, { backend: 'reference' }) };
}

/** Runs `kernel` with each implementation on a copy of `input` and returns the two memories' floats. */
function both(p: Awaited<ReturnType<typeof pair>>, input: Float32Array, kernel: (k: Kernels) => void): [Float32Array, Float32Array] {
  const f = new Float32Array(p.memory.buffer);
  const out: Float32Array[] = [];
  for (const k of [p.wasm, p.twin]) {
    f.set(input);
    kernel(k);
    out.push(new Float32Array(p.memory.buffer).slice(0, input.length));
  }
  return [out[0]!, out[1]!];
}

const bits = (a: Float32Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length);

describe('flush to zero', () => {
  it('is 2^-50, a power of two, and both implementations start with it', async () => {
    const p = await pair();
    expect(Math.log2(TAU)).toBe(-50);
    expect(p.wasm.flushThreshold).toBe(TAU);
    expect(p.twin.flushThreshold).toBe(TAU);
    const off = await createKernels(p.memory, { flushToZero: false });
    expect(off.flushThreshold).toBe(0);
  });

  it('WASM and the twin flush the same values: bit-identical around τ, NaN and ±∞ kept', async () => {
    const p = await pair();
    const edge = [TAU, -TAU, TAU * (1 - 2 ** -24), -TAU * (1 - 2 ** -24), TAU * (1 + 2 ** -23), 2 ** -130, -(2 ** -149), 0, -0, 1, NaN, Infinity, -Infinity, 1e-20, 3e-16];
    const n = edge.length;
    // relu's backward pass copies dy where x > 0: the only arithmetic is the flush.
    const input = new Float32Array(4 * n);
    input.set(edge, 0); // dy
    input.fill(1, n, 2 * n); // x > 0
    const [w, t] = both(p, input, (k) => k.activationGrad('relu', 4 * n, 4 * n, 0, 8 * n, n, 0));
    expect(bits(w.subarray(2 * n, 3 * n))).toEqual(bits(t.subarray(2 * n, 3 * n)));
    const dx = w.subarray(2 * n, 3 * n);
    edge.forEach((x, i) => {
      const stored = Math.fround(x);
      const expected = Math.abs(stored) < TAU ? 0 : stored;
      expect(Object.is(dx[i], expected) || (Number.isNaN(expected) && Number.isNaN(dx[i]!)), `dy = ${x}`).toBe(true);
    });
    // SGD with momentum: g' = g (gradScale 1, no decay) and vel = 0.5·0 + g' are flushed exactly too.
    const opt = new Float32Array(3 * n);
    opt.set(edge.map((x) => (Number.isFinite(x) ? x : 0)), n); // g
    const [ws, ts] = both(p, opt, (k) => k.sgd(n, 0, 4 * n, 8 * n, 0, 0.5, false, 0, 1, 1, 0));
    expect(bits(ws)).toEqual(bits(ts));
    expect(ws.subarray(2 * n).filter((v) => v !== 0 && Math.abs(v) < TAU)).toHaveLength(0);
    // Adam's second moment flushes at τ²: with β2 = 0, v = g'² is kept for g' = τ (v = 2^-100).
    const adam = new Float32Array(4 * 2);
    adam.set([TAU, TAU * (1 - 2 ** -24)], 2); // g
    const [wa, ta] = both(p, adam, (k) => k.adam(2, 0, 8, 16, 24, 0, 0, 0, 1e-7, 0, false, 1, 1, 1, 1, 0));
    expect(bits(wa)).toEqual(bits(ta));
    expect([wa[6], wa[7]]).toEqual([TAU * TAU, 0]);
  });

  it('no kernel writes a subnormal with the flush on; with it off the same inputs do', async () => {
    const written = async (flush: boolean): Promise<Record<string, number>> => {
      const memory = createMemory(1 << 20, false);
      const k = await createKernels(memory, { flushToZero: flush });
      const f = new Float32Array(memory.buffer);
      const i32 = new Int32Array(memory.buffer);
      const rng = Rng.fromSeed(7);
      const counts: Record<string, number> = {};
      const region = (ptr: Ptr, n: number) => new Float32Array(memory.buffer, ptr, n);
      // Confident logits (spread ±120) and 1/batch: softmax tails e^-87/Σ scaled down go subnormal.
      const rows = 64, cols = 10;
      for (let j = 0; j < rows * cols; j++) f[j] = rng.uniform(-120, 120);
      for (let r = 0; r < rows; r++) i32[1024 + r] = rng.int(cols);
      k.softmaxXent(0, 4096, 8192, rows, cols, 1 / 128);
      counts.dlogits = countSubnormals(region(8192, rows * cols));
      k.softmax(0, 16384, rows, cols);
      counts.softmax = countSubnormals(region(16384, rows * cols));
      // Sigmoid and GELU tails, and their backward passes on tiny upstream gradients.
      const n = 256;
      for (let j = 0; j < n; j++) {
        // x: deep in the negative tail (odd j) or positive; dy: subnormal from upstream or 1.
        f[8192 + j] = j % 2 === 1 ? -80 - j / 8 : 1;
        f[8192 + n + j] = j % 4 < 2 ? 1e-39 * (j + 1) : 1;
      }
      k.activation('sigmoid', 4 * 8192, 4 * 16384, n, 0);
      counts.sigmoid = countSubnormals(region(4 * 16384, n));
      k.activation('gelu', 4 * 8192, 4 * 16384, n, 0);
      counts.gelu = countSubnormals(region(4 * 16384, n));
      for (const kind of ['sigmoid', 'tanh', 'relu', 'gelu'] as const) {
        k.activation(kind, 4 * 8192, 4 * 16384, n, 0);
        k.activationGrad(kind, 4 * 8192, 4 * 16384, 4 * (8192 + n), 4 * 20000, n, 0);
        counts[`${kind}'`] = countSubnormals(region(4 * 20000, n));
      }
      // MSE gradients of nearly exact predictions.
      for (let j = 0; j < n; j++) {
        f[30000 + j] = 1;
        f[30000 + n + j] = Math.fround(1 + 2 ** -23 * (j % 3));
      }
      k.mse(4 * 30000, 4 * (30000 + n), 4 * 31000, n, 1e-32);
      counts.mse = countSubnormals(region(4 * 31000, n));
      // 2,000 optimizer steps of parameters that get (almost) no gradient: their moments decay.
      const P = 64;
      const base = 40000;
      const [p, g, s0, s1, s2] = [0, 1, 2, 3, 4].map((j) => 4 * (base + j * P)) as [number, number, number, number, number];
      for (const opt of ['sgd', 'adam', 'rmsprop'] as const) {
        region(p, 5 * P).fill(0);
        for (let j = 0; j < P; j++) f[base + P + j] = 1e-3 * (j + 1);
        for (let step = 1; step <= 2000; step++) {
          if (step === 2) region(g, P).fill(0);
          if (opt === 'sgd') k.sgd(P, p, g, s0, 0.01, 0.9, false, 0, 1, 1, 0);
          else if (opt === 'adam') k.adam(P, p, g, s0, s1, 1e-3, 0.9, 0.99, 1e-7, 0, false, 1, 1, 1, 1, 0);
          else k.rmsprop(P, p, g, s0, s1, s2, 1e-3, 0.9, 1e-7, 0.9, 0, 1, true, true, 1, 0);
        }
        counts[opt] = countSubnormals(region(s0, 3 * P));
      }
      return counts;
    };
    const on = await written(true);
    const off = await written(false);
    for (const [name, count] of Object.entries(on)) expect(count, `${name} with the flush on`).toBe(0);
    // The inputs do reach the subnormal range: each would write subnormals without the flush.
    for (const name of ['dlogits', 'softmax', 'sigmoid', 'gelu', "sigmoid'", "gelu'", "relu'", 'mse', 'sgd', 'adam', 'rmsprop']) {
      expect(off[name], `${name} with the flush off`).toBeGreaterThan(0);
    }
  });

  it('changes no loss above float32 resolution on runs that reach the subnormal regime', async () => {
    const dataset = quadrants({ count: 600, side: 8, seed: 4 });
    const run = async (flushToZero: boolean, optimizer: TrainOptions['optimizer']) => {
      let subnormals = 0;
      const session: TrainingSession = await TrainingSession.create({
        model: {
          inputShape: [8, 8],
          layers: [{ type: 'flatten' }, { type: 'dense', units: 64, activation: 'relu' }, { type: 'dense', units: 4 }],
          loss: 'softmax_cross_entropy',
        },
        optimizer,
        dataset,
        // An easy task at a high learning rate, trained on after it is solved: the logits grow until
        // softmax tails, gradients and the moments of dead units leave the normal range.
        epochs: 30,
        batchSize: 16,
        seed: 3,
        kernels: { flushToZero },
        stepInterval: 1,
        onStep: () => {
          const { gradSlots, state } = session.plan;
          for (const ptr of [...gradSlots, ...state]) subnormals += countSubnormals(new Float32Array(session.memory.buffer, ptr, session.model.paramCount));
        },
      });
      await session.fit();
      return { history: session.history, subnormals };
    };
    for (const optimizer of [{ type: 'adam', learningRate: 0.1 }, { type: 'sgd', learningRate: 0.5, momentum: 0.9 }, { type: 'rmsprop', learningRate: 0.2 }]) {
      const off = await run(false, optimizer);
      const on = await run(true, optimizer);
      expect(on.subnormals, `${optimizer.type}: none with the flush`).toBe(0);
      expect(off.subnormals, `${optimizer.type}: the run reaches the subnormal regime`).toBeGreaterThan(0);
      on.history.forEach((m, e) => {
        const ref = off.history[e]!;
        for (const key of ['trainLoss', 'valLoss'] as const) {
          const a = m[key]!, b = ref[key]!;
          expect(Math.abs(a - b), `${optimizer.type} epoch ${e + 1} ${key}: ${a} vs ${b}`).toBeLessThanOrEqual(2 ** -23 * Math.abs(b));
        }
      });
    }
  }, 120_000);
});
