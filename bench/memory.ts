// Memory: process RSS with 4 replica threads minus RSS with 1 on MNIST, each in a fresh process.
// No replica copies the dataset or the parameters, so the difference must stay below
// 3 × (one replica's activations + one gradient block) + 30 MB (three more thread isolates).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const child = fileURLToPath(new URL('./lib/memory-child.ts', import.meta.url));

function measure(threads: number): { rss: number; activationBytes: number; gradientBytes: number; sharedBytes: number } {
  const out = execFileSync(process.execPath, [tsx, child, String(threads)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as ReturnType<typeof measure>;
}

export async function run() {
  const MB = 1024 * 1024;
  // Two samples each, interleaved; the smaller RSS of each is kept (RSS is noisy).
  const t1 = [measure(1), measure(4), measure(1), measure(4)];
  const rss1 = Math.min(t1[0]!.rss, t1[2]!.rss);
  const rss4 = Math.min(t1[1]!.rss, t1[3]!.rss);
  const perReplica = t1[0]!.activationBytes + t1[0]!.gradientBytes;
  const budget = 3 * perReplica + 30 * MB;
  return {
    metrics: {
      rss_t1_mb: rss1 / MB,
      rss_t4_mb: rss4 / MB,
      rss_delta_mb: (rss4 - rss1) / MB,
      budget_mb: budget / MB,
      replica_activation_mb: t1[0]!.activationBytes / MB,
      gradient_block_mb: t1[0]!.gradientBytes / MB,
      shared_memory_mb_t1: t1[0]!.sharedBytes / MB,
      shared_memory_mb_t4: t1[1]!.sharedBytes / MB,
    },
  };
}
