// The schemas' part of refusing hostile requests: strings PostgreSQL cannot store, reserved keys
// that zod's records would drop, cursors whose values lie outside their column's range, and
// error lists that stay small.
import fc from 'fast-check';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  MAX_DETAIL_CHARS,
  MAX_ERROR_DETAILS,
  capDetails,
  isMoreDetail,
  refuseReservedKeys,
  reservedKeyPaths,
  text,
  tooDeepPath,
  unstorableReason,
  unstorableStrings,
  validationError,
  zodIssuesToDetails,
} from './common.ts';
import { mnistTpeAshaSweep } from './fixtures.ts';
import { CsvUploadQuery, ListSweepsQuery, ListTrialsQuery, MAX_INT32, cursorMisfit, decodeCursor, encodeCursor, isCursorTimestamp } from './queries.ts';
import { CreateSweepRequest, MAX_SPACE_CHOICES } from './sweep.ts';
import { CreateApiTokenRequest } from './responses.ts';

type Json = Record<string, unknown>;
const fixture = () => structuredClone(mnistTpeAshaSweep()) as unknown as Json;
const space = (req: Json) => (req['search'] as Json)['space'] as Json;
const UUID = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
const cursor = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString('base64url');

function paths(schema: z.ZodType, input: unknown): string[] {
  const r = schema.safeParse(input);
  if (r.success) throw new Error(`accepted ${JSON.stringify(input)?.slice(0, 200)}`);
  return zodIssuesToDetails(r.error).map((d) => d.path);
}

describe('strings PostgreSQL cannot store', () => {
  it('knows them: NUL and lone surrogates, not pairs or other text', () => {
    for (const bad of ['\u0000', 'a\u0000', '\ud800', '\udfff', 'x\ud83dy', '\ude00\ud83d']) expect(unstorableReason(bad), JSON.stringify(bad)).toBeDefined();
    for (const ok of ['', 'plain', '\u{1f600}', 'é ß 漢字', "'; DROP TABLE x; --", '\t\n', '\uffff']) expect(unstorableReason(ok), JSON.stringify(ok)).toBeUndefined();
  });

  it('text() refuses them, so every free-text field of every request does', () => {
    expect(text(100).safeParse('a\ud800b').success).toBe(false);
    expect(paths(CreateApiTokenRequest, { name: 'ci \udc00', grants: [{ project: 'default', role: 'read' }] })).toEqual(['name']);
    const req = fixture();
    req['name'] = '\ud800';
    req['description'] = 'ok \udbff';
    expect(paths(CreateSweepRequest, req)).toEqual(expect.arrayContaining(['name', 'description']));
    expect(paths(CsvUploadQuery, { name: 'x', labelColumn: 'y\u0000', task: 'regression' })).toContain('labelColumn');
    expect(paths(CsvUploadQuery, { name: 'x', labelColumn: 'y', task: 'regression', delimiter: '\u0000' })).toContain('delimiter');
    expect(CsvUploadQuery.parse({ name: 'x', labelColumn: 'y', task: 'regression', delimiter: '\t' }).delimiter).toBe('\t');
  });

  it('tooDeepPath names the first container nested past the limit, and passes wide flat values', () => {
    const nest = (levels: number): unknown => (levels === 0 ? 1 : { a: [nest(levels - 1)] });
    // Each level of nest() is two containers (an object and an array).
    expect(tooDeepPath(nest(32), 64)).toBeNull();
    expect(tooDeepPath({ x: 1, y: nest(33) }, 64)).toEqual(['y', ...Array.from({ length: 32 }, () => ['a', 0]).flat()].slice(0, 64));
    expect(tooDeepPath([[1, 2], { b: [[[]]] }], 3)).toEqual([1, 'b', 0]);
    expect(tooDeepPath(Array.from({ length: 300_000 }, (_, i) => i))).toBeNull();
    expect(tooDeepPath('text')).toBeNull();
  });

  it('query numbers: decimal digits only; a fraction as String(n) writes it, exponents and long ones included', () => {
    const csv = (validationFraction: string) => CsvUploadQuery.safeParse({ name: 'x', labelColumn: 'y', task: 'regression', validationFraction });
    for (const ok of [String(1 / 30), String(1 - 0.7 - 0.1), String(1 / 7), '1e-7', '0', '.5', '0.25']) expect(csv(ok).success, ok).toBe(true);
    expect(csv(String(1 / 30)).data?.validationFraction).toBe(1 / 30);
    for (const bad of ['', ' 0.1', '0x1', '1e-400', '0.1.2', '-0.1', 'NaN', '1'.repeat(41)]) expect(paths(CsvUploadQuery, { name: 'x', labelColumn: 'y', task: 'regression', validationFraction: bad }), bad).toEqual(['validationFraction']);
  });

  it('are found anywhere in a JSON value, keys included, the first 20 only', () => {
    expect(unstorableStrings({ a: [1, 'ok', { b: 'x\u0000' }], ['k\ud800']: 1 })).toEqual([
      { path: 'a[2].b', message: 'must not contain NUL characters' },
      { path: 'k\ud800', message: 'this field name must be valid Unicode (it holds a lone UTF-16 surrogate)' },
    ]);
    expect(unstorableStrings(Array.from({ length: 1000 }, () => '\u0000'))).toHaveLength(20);
  });

  it('a request whose every string field is storable survives; one that is not is refused naming the field (fast-check)', () => {
    const bad = fc.constantFrom('\u0000', '\ud800', '\udfff');
    fc.assert(
      fc.property(fc.constantFrom('name', 'description'), fc.string({ maxLength: 10 }), bad, (field, around, b) => {
        const req = fixture();
        // Only the unstorable character is wrong: controls and surrogates of the padding are removed.
        // eslint-disable-next-line no-control-regex
        req[field] = `${around.replace(/[\u0000-\u001f\u007f\ud800-\udfff]/g, '')}${b}`;
        expect(paths(CreateSweepRequest, req)).toContain(field);
      }),
      { seed: 7, numRuns: 100 },
    );
  });
});

describe('reserved keys', () => {
  it('zod records drop __proto__ silently: refuseReservedKeys refuses it, at any depth', () => {
    const record = z.record(z.string(), z.unknown());
    const input = JSON.parse('{"__proto__":{"x":1},"a":{"b":[{"constructor":1}]}}') as unknown;
    expect(record.safeParse(input).success).toBe(true); // what this guards against
    expect(reservedKeyPaths(input)).toEqual([['__proto__'], ['a', 'b', 0, 'constructor']]);
    expect(paths(refuseReservedKeys(record), input)).toEqual(['__proto__', 'a.b[0].constructor']);
  });

  it.each([
    ['__proto__ at the top of the space', '"space":{', '"space":{"__proto__":{"type":"uniform","low":0,"high":1},', 'search.space.__proto__'],
    ['prototype at the top of the space', '"space":{', '"space":{"prototype":{"type":"uniform","low":0,"high":1},', 'search.space.prototype'],
    ['__proto__ in a conditional sub-space', '"params":{', '"params":{"__proto__":{"type":"fixed","value":1},', 'search.space.optimizer.choices[0].params.__proto__'],
  ])('a search space with %s is refused naming it', (_name, from, to, path) => {
    const raw = JSON.parse(JSON.stringify(mnistTpeAshaSweep()).replace(from, to)) as unknown;
    expect(paths(CreateSweepRequest, raw)).toContain(path);
  });

  it('grid pointsPerParam is a record too', () => {
    const req = fixture();
    (req['search'] as Json)['sampler'] = JSON.parse('{"type":"grid","pointsPerParam":{"__proto__":2,"learningRate":3}}');
    expect(paths(CreateSweepRequest, req)).toContain('search.sampler.pointsPerParam.__proto__');
  });
});

describe('cursors hold only what their columns can', () => {
  it('timestamps: ISO 8601 as the API writes them, real dates, years 1 to 9999', () => {
    for (const ok of ['2025-01-31T12:00:00.000Z', '0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) expect(isCursorTimestamp(ok), ok).toBe(true);
    for (const bad of ['+275760-09-13T00:00:00.000Z', '-000001-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '2025-02-30T00:00:00.000Z', '2025-01-31T12:00:00Z', '2025-01-31', 5, null]) {
      expect(isCursorTimestamp(bad), String(bad)).toBe(false);
    }
  });

  it.each([
    ['trials', { sort: 'number', order: 'asc', value: 1, after: MAX_INT32 + 1 }],
    ['trials', { sort: 'number', order: 'asc', value: 2 ** 40, after: 1 }],
    ['trials', { sort: 'number', order: 'asc', value: -1, after: 1 }],
    ['trials', { sort: 'bestValue', order: 'asc', value: 1, after: UUID }],
    ['trials', { sort: 'bestValue', order: 'asc', value: 'x', after: 1 }],
    ['trials', { sort: 'createdAt', order: 'asc', value: '-200000-01-01T00:00:00.000Z', after: 1 }],
    ['trials', { sort: 'createdAt', order: 'asc', value: 5, after: 1 }],
    ['sweeps', { sort: 'createdAt', order: 'desc', value: '+275760-09-13T00:00:00.000Z', after: UUID }],
    ['sweeps', { sort: 'createdAt', order: 'desc', value: '2025-01-31T12:00:00.000Z', after: 7 }],
    ['sweeps', { sort: 'name', order: 'asc', value: 'a\u0000b', after: UUID }],
    ['sweeps', { sort: 'name', order: 'asc', value: '\ud800', after: UUID }],
    ['sweeps', { sort: 'name', order: 'asc', value: 3, after: UUID }],
    ['sweeps', { sort: 'name', order: 'asc', value: 'n', after: "1' OR 1=1" }],
    ['sweeps', { sort: 'name', order: 'asc', value: 'n' }],
    ['sweeps', { sort: 'name', order: 'asc', value: 'n', after: UUID, extra: 1 }],
  ] as const)('a %s cursor %j is refused at cursor', (listing, payload) => {
    const schema = listing === 'sweeps' ? ListSweepsQuery : ListTrialsQuery;
    const query = { sort: payload.sort, order: payload.order, cursor: cursor(payload) };
    expect(paths(schema, query)).toEqual(['cursor']);
  });

  it('accepts every cursor the API itself writes', () => {
    const now = new Date('2025-01-31T12:00:00.123Z').toISOString();
    const ok: [z.ZodType, Json][] = [
      [ListSweepsQuery, { sort: 'createdAt', order: 'desc', value: now, after: UUID }],
      [ListSweepsQuery, { sort: 'name', order: 'asc', value: 'mnist tpe+asha 🧪', after: UUID }],
      [ListTrialsQuery, { sort: 'number', order: 'asc', value: 0, after: 0 }],
      [ListTrialsQuery, { sort: 'bestValue', order: 'desc', value: -1e308, after: MAX_INT32 }],
      [ListTrialsQuery, { sort: 'finalValue', order: 'asc', value: null, after: 5 }],
      [ListTrialsQuery, { sort: 'createdAt', order: 'asc', value: now, after: 3 }],
    ];
    for (const [schema, payload] of ok) {
      const parsed = schema.parse({ sort: payload['sort'], order: payload['order'], cursor: encodeCursor(payload as Parameters<typeof encodeCursor>[0]) }) as { cursor: unknown };
      expect(parsed.cursor).toEqual(payload);
    }
  });

  it('never throws on any decoded payload, and whatever it accepts fits its listing (fast-check)', () => {
    const value = fc.oneof(fc.integer(), fc.double(), fc.string({ unit: 'binary' }), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constant(null));
    const payload = fc.record({ sort: fc.constantFrom('number', 'bestValue', 'createdAt', 'name', 'x'), order: fc.constantFrom('asc', 'desc'), value, after: fc.oneof(fc.integer(), fc.uuid(), fc.string({ unit: 'binary' })) });
    fc.assert(
      fc.property(payload, (p) => {
        let decoded;
        try {
          decoded = decodeCursor(cursor(p));
        } catch {
          return; // refused as a whole: fine
        }
        const misfit = cursorMisfit('trials', decoded);
        if (misfit !== undefined) return;
        if (decoded.sort === 'number') expect(Number.isInteger(decoded.value) && (decoded.value as number) <= MAX_INT32).toBe(true);
        expect(typeof decoded.after === 'number' && decoded.after >= 0 && decoded.after <= MAX_INT32).toBe(true);
        if (decoded.sort === 'createdAt') expect(isCursorTimestamp(decoded.value)).toBe(true);
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

describe('error lists stay small', () => {
  it('validationError lists 20 details, then one saying how many more; each cut to 500 characters', () => {
    const schema = z.array(z.number());
    const error = schema.safeParse(Array.from({ length: 5000 }, () => 'x')).error!;
    const body = validationError(error);
    expect(body.error.details).toHaveLength(MAX_ERROR_DETAILS + 1);
    expect(body.error.details.at(-1)).toEqual({ path: '', message: 'and 4980 more problems not listed' });
    expect(isMoreDetail(body.error.details.at(-1)!)).toBe(true);
    expect(isMoreDetail(body.error.details[0]!)).toBe(false);
    const long = z.literal('a').safeParse('b'.repeat(10_000));
    const cut = zodIssuesToDetails(z.object({ ['k'.repeat(2000)]: z.string() }).safeParse({}).error!, [], 5);
    expect(cut[0]!.path.length).toBe(MAX_DETAIL_CHARS);
    expect(long.success).toBe(false);
    // Without a cap (the dashboard's form), everything is listed.
    expect(zodIssuesToDetails(error)).toHaveLength(5000);
  });

  it('capDetails keeps counting from a summary that is already there', () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ path: `f${i}`, message: 'bad' }));
    expect(capDetails(many).at(-1)).toEqual({ path: '', message: 'and 10 more problems not listed' });
    expect(capDetails([...many.slice(0, 20), { path: '', message: 'and 7 more problems not listed' }])).toHaveLength(21);
    expect(capDetails([...many, { path: '', message: 'and 7 more problems not listed' }]).at(-1)).toEqual({ path: '', message: 'and 17 more problems not listed' });
    expect(capDetails([{ path: 'p', message: 'm'.repeat(2000) }])[0]!.message).toHaveLength(MAX_DETAIL_CHARS);
  });

  it('10,000 bad categorical choices give 20 details and a count; a space past 20,000 choices one', () => {
    const req = fixture();
    space(req)['activation'] = { type: 'categorical', choices: Array.from({ length: 10_000 }, (_, i) => `act${i}`) };
    const body = validationError(CreateSweepRequest.safeParse(req).error!);
    expect(body.error.details).toHaveLength(21);
    expect(body.error.details.at(-1)!.message).toBe('and 9980 more problems not listed');
    expect(JSON.stringify(body).length).toBeLessThan(8_192);
    space(req)['activation'] = { type: 'categorical', choices: Array.from({ length: MAX_SPACE_CHOICES + 1 }, (_, i) => `act${i}`) };
    expect(zodIssuesToDetails(CreateSweepRequest.safeParse(req).error!)).toEqual([{ path: 'search.space', message: `has more than ${MAX_SPACE_CHOICES} categorical choices` }]);
  });
});
