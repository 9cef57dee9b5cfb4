// The container healthcheck of a worker (docker-compose): healthy while this host's worker
// publishes live heartbeats. Exit 0 healthy, 1 not.
import { hostname } from 'node:os';
import { createRedis, listWorkers } from '@hypersweep/queue';
import { parseEnv } from './env.ts';

const config = parseEnv(process.env);
const redis = createRedis(config.redisUrl, { role: 'queue', connectionName: 'hypersweep-healthcheck' });
let healthy = false;
try {
  const view = await listWorkers(redis, config.queuePrefix, { aliveWithinMs: 3 * config.heartbeatMs });
  healthy = view.workers.some((w) => w.alive && w.host === hostname());
} catch (error) {
  process.stderr.write(`healthcheck: ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  redis.disconnect();
}
process.stdout.write(healthy ? 'healthy\n' : 'no live heartbeat from this host\n');
process.exit(healthy ? 0 : 1);
