import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zodIssuesToDetails } from './common.ts';
import { jsonLocations, jsonReplaced, mnistTpeAshaSweep, templatedMnistSweep } from './fixtures.ts';
import { CreateSweepRequest } from './sweep.ts';

type Json = Record<string, unknown>;

const locations = jsonLocations;
const replaced = jsonReplaced;

const VALID = mnistTpeAshaSweep();
const PATHS = locations(VALID);

/** Parsing never throws; a failure always has details with a message; an accepted request survives a JSON round trip. */
function check(input: unknown): void {
  const r = CreateSweepRequest.safeParse(input);
  if (!r.success) {
    const details = zodIssuesToDetails(r.error);
    expect(details.length).toBeGreaterThan(0);
    for (const d of details) expect(typeof d.path === 'string' && d.message.length > 0).toBe(true);
    return;
  }
  // Stored as JSON (Postgres jsonb) and parsed again, the request is unchanged: its JSON is a fixed
  // point. (Compared as JSON because JSON itself turns -0 into 0.)
  const stored = JSON.stringify(r.data);
  const again = CreateSweepRequest.parse(JSON.parse(stored));
  expect(JSON.stringify(again)).toBe(stored);
}

const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e308, -1e308, 2 ** 53, '', '\u0000', '__proto__', null, [], {}),
  fc.double(),
  fc.integer(),
);

describe('CreateSweepRequest under fuzzing', () => {
  it('never throws on arbitrary JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => check(v)), { numRuns: 500 });
  });

  it('never throws on arbitrary objects with the request\'s keys', () => {
    const keys = ['name', 'dataset', 'model', 'training', 'search', 'objective'];
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...keys), fc.jsonValue()), (v) => check(v)), { numRuns: 300 });
  });

  it('never throws when one field of a valid request is replaced by anything', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), anyValue, (path, value) => check(replaced(VALID, path, value))),
      { numRuns: 1500 },
    );
  });

  it('accepts and round-trips valid requests with varied numbers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 1e-6, max: 1e-3, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s)), // eslint-disable-line no-control-regex
        (epochs, maxTrials, low, seed, name) => {
          const req = structuredClone(VALID) as Json & { training: Json; search: Json & { budget: Json; space: Json } };
          req.name = name;
          req.training.epochs = epochs;
          req.search.budget = { maxTrials, maxConcurrentTrials: 1 };
          req.search.seed = seed;
          req.search.space.learningRate = { type: 'loguniform', low, high: 0.1 };
          const r = CreateSweepRequest.safeParse(req);
          // ASHA needs a rung below maxResource (= epochs): one epoch leaves none.
          expect(r.success).toBe(epochs > 1);
          check(req);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('templated requests under fuzzing', () => {
  const TEMPLATED = templatedMnistSweep();
  const TEMPLATED_PATHS = locations(TEMPLATED);
  const names = fc.oneof(fc.constantFrom('lr', 'depth', 'units_{i}', 'units_1', 'units_3', 'scaling', 'beta2', 'warmup', '__proto__', 'constructor', '{i}', ''), fc.string());
  /** Directives, well-formed or not, to put anywhere. */
  const directive = fc.oneof(
    names.map((n) => ({ $param: n })),
    fc.record({ $param: fc.jsonValue() }),
    fc.record({ times: fc.oneof(fc.integer({ min: -2, max: 70 }), names.map((n) => ({ $param: n }))), block: fc.array(fc.oneof(fc.jsonValue(), names.map((n) => ({ $param: n }))), { maxLength: 4 }) }).map((r) => ({ $repeat: r })),
    fc.record({ by: fc.oneof(names.map((n) => ({ $param: n })), fc.jsonValue()), cases: fc.dictionary(fc.string(), fc.array(fc.jsonValue(), { maxLength: 3 })) }).map((r) => ({ $select: r })),
    fc.dictionary(fc.constantFrom('$param', '$repeat', '$select', '$ref', 'x'), fc.jsonValue()),
  );

  it('never throws when a field of a templated request is replaced by anything, a directive included; accepted ones round-trip', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TEMPLATED_PATHS), fc.oneof(anyValue, directive), (path, value) => check(replaced(TEMPLATED, path, value))),
      { numRuns: 1500 },
    );
  });

  it('never throws when directives land in two places at once', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TEMPLATED_PATHS), directive, fc.constantFrom(...TEMPLATED_PATHS), directive, (p1, d1, p2, d2) => {
        // Two separate places: neither inside the other, so the second still exists after the first.
        const under = (a: readonly (string | number)[], b: readonly (string | number)[]) => a.length <= b.length && a.every((k, i) => k === b[i]);
        fc.pre(!under(p1, p2) && !under(p2, p1));
        check(replaced(replaced(TEMPLATED, p1, d1), p2, d2));
      }),
      { numRuns: 500 },
    );
  });
});
