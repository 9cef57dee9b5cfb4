import { describe, expect, it } from 'vitest';
import { API_PREFIX, API_ROUTES, buildOpenApiDocument } from './openapi.ts';

type Json = Record<string, unknown>;
const doc = buildOpenApiDocument() as Json & { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Json>; securitySchemes: Json } };

function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('buildOpenApiDocument', () => {
  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc).toHaveProperty('info.title');
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it('resolves every $ref to a component', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(20);
    for (const ref of all) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas).toHaveProperty([ref.slice('#/components/schemas/'.length)]);
    }
  });

  it('declares bearer security globally and opens only the health and metrics routes', () => {
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const open = Object.entries(doc.paths).flatMap(([path, ops]) => Object.values(ops).filter((op) => Array.isArray(op.security) && op.security.length === 0).map(() => path));
    expect(open.sort()).toEqual(['/healthz', '/metrics', '/readyz']);
  });

  it('lists the routes of the issue under /api/v1, each with responses and an operation id', () => {
    const ops = new Map<string, Json>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(Object.keys(op.responses as Json).length, `${method} ${path}`).toBeGreaterThan(0);
        ops.set(`${method.toUpperCase()} ${path}`, op);
      }
    }
    expect([...ops.keys()]).toEqual(expect.arrayContaining([
      `POST ${API_PREFIX}/sweeps`,
      `GET ${API_PREFIX}/sweeps`,
      `GET ${API_PREFIX}/sweeps/{sweepId}`,
      `POST ${API_PREFIX}/sweeps/{sweepId}/cancel`,
      `GET ${API_PREFIX}/sweeps/{sweepId}/trials`,
      `GET ${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}`,
      `POST ${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/stop`,
      `GET ${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/metrics`,
      `GET ${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/export`,
      `POST ${API_PREFIX}/sweeps/{sweepId}/trials/{trialId}/predict`,
      `GET ${API_PREFIX}/sweeps/{sweepId}/events`,
      `GET ${API_PREFIX}/datasets`,
      `POST ${API_PREFIX}/datasets`,
      `GET ${API_PREFIX}/tokens`,
      `POST ${API_PREFIX}/tokens`,
      `GET ${API_PREFIX}/workers`,
      `GET ${API_PREFIX}/openapi.json`,
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
    ]));
    expect(ops.size).toBe(API_ROUTES.length);
    const ids = API_ROUTES.map((r) => r.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [key] of ops) if (!/ \/(healthz|readyz|metrics)$/.test(key)) expect(key).toContain(` ${API_PREFIX}/`);
  });

  it('declares every {param} of a path as a required path parameter', () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(methods)) {
        const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
        expect(declared.map((p) => p.name).sort()).toEqual([...names].sort());
        for (const p of declared) expect(p.required).toBe(true);
      }
    }
  });

  it('documents sweep submission from the zod schema: strict objects, bounds, error bodies, the idempotency header', () => {
    const post = doc.paths[`${API_PREFIX}/sweeps`]!.post!;
    expect(post).toHaveProperty(['requestBody', 'content', 'application/json', 'schema', '$ref'], '#/components/schemas/CreateSweepRequest');
    expect(post).toHaveProperty(['responses', '400', 'content', 'application/json', 'schema', '$ref'], '#/components/schemas/ApiError');
    expect(post.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }));
    const create = doc.components.schemas['CreateSweepRequest'] as Json & { properties: Json; required: string[] };
    expect(create.additionalProperties).toBe(false);
    expect(create.required).toEqual(expect.arrayContaining(['name', 'dataset', 'model', 'training', 'search', 'objective']));
    expect(create).toHaveProperty(['properties', 'name', 'maxLength'], 200);
    expect(create).toHaveProperty(['properties', 'training', '$ref'], '#/components/schemas/TrainingSpec');
    expect(doc.components.schemas['TrainingSpec']).toHaveProperty(['properties', 'epochs', 'maximum'], 1000);
  });

  it('documents the list query of trials with its limits and defaults', () => {
    const params = doc.paths[`${API_PREFIX}/sweeps/{sweepId}/trials`]!.get!.parameters as Json[];
    const limit = params.find((p) => p.name === 'limit')!;
    // A query string carries text: the default as it would be written, and the digits it takes.
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'string', default: '50', pattern: '^\\d{1,16}$' } });
    expect(params.map((p) => p.name)).toEqual(expect.arrayContaining(['cursor', 'status', 'sort', 'order']));
  });
});
