import { describe, expect, it } from 'vitest';
import { createJsonLogger } from './index.ts';

describe('createJsonLogger', () => {
  it('writes one JSON line per record at or above its level, children carrying their fields and errors their message', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ level: 'info', write: (l) => lines.push(l), fields: { service: 'api' } });
    logger.debug({}, 'hidden');
    logger.child({ sweepId: 's1' }).warn({ err: Object.assign(new Error('boom'), { code: 'E1' }) }, 'careful');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', msg: 'careful', service: 'api', sweepId: 's1', err: { name: 'Error', message: 'boom', code: 'E1' } });
  });
});
