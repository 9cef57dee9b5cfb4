import { builtinDatasets } from '@hypersweep/datasets';
import { describe, expect, it } from 'vitest';
import { ApiError, API_ERROR_STATUS, ERROR_CODES, parsePath, zodIssuesToDetails } from './common.ts';
import { SchemaError } from './errors.ts';
import { SweepEvent, formatSseEvent } from './events.ts';
import { ListTrialsQuery, MetricsQuery, decodeCursor, encodeCursor, LastEventId } from './queries.ts';
import { ApiTokenCreated, ApiTokenInfo, Trial, WorkerHeartbeat } from './responses.ts';
import { BUILTIN_DATASET_IDS } from './sweep.ts';

const A = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
const B = '0b6a3c55-2f7e-4e0e-9d53-3a1f6e2b9c44';
const NOW = '2025-01-31T12:00:00.000Z';

describe('list queries and cursors', () => {
  it('coerces query strings and applies defaults', () => {
    expect(ListTrialsQuery.parse({})).toEqual({ limit: 50, sort: 'number', order: 'asc' });
    expect(ListTrialsQuery.parse({ limit: '200', status: 'running,stopped', sort: 'bestValue', order: 'desc' })).toEqual({
      limit: 200, status: ['running', 'stopped'], sort: 'bestValue', order: 'desc',
    });
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '201' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ limit: '1.5' }, 'limit'],
    [{ status: 'running,exploded' }, 'status[1]'],
    [{ sort: 'params' }, 'sort'],
    [{ cursor: 'not a cursor!' }, 'cursor'],
    [{ page: '2' }, 'page'],
  ])('rejects %j naming %s', (query, path) => {
    const r = ListTrialsQuery.safeParse(query);
    expect(r.success).toBe(false);
    expect(zodIssuesToDetails(r.error!).map((d) => d.path)).toContain(path);
  });

  it('round-trips a cursor as an opaque base64url string', () => {
    const payload = { sort: 'bestValue', order: 'desc' as const, value: 0.25, after: 17 };
    const cursor = encodeCursor(payload);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(payload);
    expect(ListTrialsQuery.parse({ cursor, sort: 'bestValue', order: 'desc' }).cursor).toEqual(payload);
  });

  it('refuses a tampered cursor, and a cursor of another sort order', () => {
    const cursor = encodeCursor({ sort: 'number', order: 'asc', value: 3, after: 3 });
    const forged = Buffer.from(JSON.stringify({ sort: 'number', order: 'asc', value: { $gt: '' }, after: 1 })).toString('base64url');
    expect(() => decodeCursor(forged)).toThrow(SchemaError);
    expect(() => decodeCursor(cursor.slice(0, -3))).toThrow(SchemaError);
    const r = ListTrialsQuery.safeParse({ cursor, order: 'desc' });
    expect(r.success).toBe(false);
    expect(zodIssuesToDetails(r.error!)[0]!.path).toBe('cursor');
  });

  it('parses the metrics query', () => {
    expect(MetricsQuery.parse({ names: 'val_loss, train_loss', maxPoints: '100' })).toEqual({ names: ['val_loss', 'train_loss'], maxPoints: 100 });
    expect(MetricsQuery.safeParse({ names: 'val_loss;drop' }).success).toBe(false);
    expect(MetricsQuery.safeParse({ maxPoints: '1000000' }).success).toBe(false);
    expect(MetricsQuery.safeParse({ fromStep: '5', toStep: '2' }).success).toBe(false);
  });
});

describe('events', () => {
  it('frames an SSE event with its id and type', () => {
    const event = SweepEvent.parse({
      id: 7, type: 'trial.epoch', sweepId: A, at: NOW,
      data: { trialId: B, number: 3, epoch: 2, metrics: { val_loss: 0.5, val_accuracy: 0.8 } },
    });
    expect(formatSseEvent(event)).toBe(`id: 7\nevent: trial.epoch\ndata: ${JSON.stringify(event)}\n\n`);
    expect(SweepEvent.safeParse({ ...event, id: 0 }).success).toBe(false);
    expect(SweepEvent.safeParse({ ...event, type: 'trial.exploded' }).success).toBe(false);
    expect(LastEventId.parse('42')).toBe(42);
    expect(LastEventId.safeParse('-1').success).toBe(false);
  });
});

describe('responses', () => {
  it('lists tokens by prefix only, and shows the secret only on creation', () => {
    const grants = [{ project: 'vision', role: 'submit' as const }];
    const info = { id: A, name: 'ci', prefix: 'hs_ab12', grants, serverAdmin: false, expiresAt: null, createdAt: NOW, lastUsedAt: null, revokedAt: null };
    expect(ApiTokenInfo.parse(info)).toEqual(info);
    expect(ApiTokenInfo.safeParse({ ...info, token: 'hs_secret' }).success).toBe(false);
    expect(ApiTokenCreated.parse({ id: A, name: 'ci', prefix: 'hs_ab12', token: 'hs_ab12_secret', grants, serverAdmin: false, expiresAt: null, createdAt: NOW }).token).toBe('hs_ab12_secret');
  });

  it('parses a trial and a worker heartbeat', () => {
    const trial = {
      id: B, sweepId: A, number: 0, params: { learningRate: 0.01, optimizer: 'sgd' }, status: 'stopped', attempt: 2, workerId: 'w1',
      epochsDone: 3, bestValue: 0.9, finalValue: 0.9, lastMetrics: { val_accuracy: 0.9 }, reason: 'asha: below the rung cutoff', error: null,
      createdAt: NOW, startedAt: NOW, finishedAt: NOW,
    };
    expect(Trial.parse(trial)).toEqual(trial);
    expect(Trial.safeParse({ ...trial, status: 'paused' }).success).toBe(false);
    expect(WorkerHeartbeat.parse({
      workerId: 'w1', host: 'box', pid: 123, threads: 2, currentTrial: { sweepId: A, trialId: B, attempt: 1, epoch: 2 },
      samplesPerSecond: 1500, startedAt: NOW, at: NOW,
    }).threads).toBe(2);
  });

  it('has an HTTP status for every error code and parses an error body', () => {
    for (const code of ERROR_CODES) expect(API_ERROR_STATUS[code]).toBeGreaterThanOrEqual(400);
    const body = { error: { code: 'not_found', message: 'no sweep', details: [] } };
    expect(ApiError.parse(body)).toEqual(body);
    expect(ApiError.safeParse({ error: { code: 'teapot', message: '', details: [] } }).success).toBe(false);
  });

  it('formats and parses paths as nn does', () => {
    expect(parsePath('optimizer.choices[0].params.momentum.low')).toEqual(['optimizer', 'choices', 0, 'params', 'momentum', 'low']);
    expect(parsePath('')).toEqual([]);
  });

  it('knows the same built-in datasets as @hypersweep/datasets', () => {
    expect([...BUILTIN_DATASET_IDS].sort()).toEqual(builtinDatasets.map((d) => d.id).sort());
  });
});
