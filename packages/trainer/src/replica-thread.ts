// The replica thread's entry: serves the pool's commands (bundled to dist/replica-thread.mjs).
import { parentPort } from 'node:worker_threads';
import { serveReplica } from './replica-host.ts';

if (!parentPort) throw new Error('replica-thread.ts runs inside a worker thread');
serveReplica(parentPort);
