// The postMessage peer of the allreduce benchmark: two threads each hold a gradient vector, send
// it to the other (structured clone) and average what they receive into their own, round after round.
import { MessageChannel, Worker } from 'node:worker_threads';

const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { port, n, rounds, leader } = workerData;
const mine = new Float32Array(n);
for (let i = 0; i < n; i++) mine[i] = (i % 97) * 1e-3 + (leader ? 1 : 2);
let round = 0;
let started = 0;
function send() { port.postMessage(mine); }
port.on('message', (peer) => {
  for (let i = 0; i < n; i++) mine[i] = (mine[i] + peer[i]) * 0.5;
  round++;
  if (round === 1) started = performance.now(); // the first round warms up
  if (round === rounds + 1) {
    if (leader) parentPort.postMessage((performance.now() - started) / rounds);
    port.close();
    return;
  }
  send();
});
send();
`;

/** Milliseconds per averaging round of an n-float vector between two threads. */
export async function postMessageAverageMs(n: number, rounds: number): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const a = new Worker(THREAD, { eval: true, execArgv: [], workerData: { port: port1, n, rounds, leader: true }, transferList: [port1] });
  const b = new Worker(THREAD, { eval: true, execArgv: [], workerData: { port: port2, n, rounds, leader: false }, transferList: [port2] });
  try {
    return await new Promise<number>((resolve, reject) => {
      a.once('message', (ms: number) => resolve(ms));
      a.once('error', reject);
      b.once('error', reject);
    });
  } finally {
    await Promise.all([a.terminate(), b.terminate()]);
  }
}
