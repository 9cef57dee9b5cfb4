// A client that takes a row lock and keeps its transaction open: `DATABASE_URL`, a sweep id as
// argv[2]. It prints "locked" once the lock is held, then waits — for tests that cut it off.
import { createDb } from '@hypersweep/db';

const db = createDb(process.env.DATABASE_URL ?? '', { maxConnections: 1 });
const sweepId = process.argv[2] ?? '';
await db.$transaction(
  async (tx) => {
    await tx.$queryRaw`SELECT id FROM sweeps WHERE id = ${sweepId}::uuid FOR UPDATE`;
    console.log('locked');
    await new Promise(() => undefined);
  },
  { timeout: 600_000 },
);
