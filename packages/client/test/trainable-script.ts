// A JavaScript trainable for the trainable helpers' tests, run as a child process the test plays
// the worker for. Its mode (argv[2]) picks what it does; everything it notes goes to stderr as
// "note <json>" lines, since stdout carries reports only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointDir, params, report, shouldStop, startStep, trialInfo, TrainableError } from '../src/trainable.ts';

const note = (value: unknown) => process.stderr.write(`note ${JSON.stringify(value)}\n`);
const mode = process.argv[2];

if (mode === 'loop') {
  // As a real loop: resume from the checkpoint's step, save every other step, stop when told.
  const lr = Number(params().lr);
  note({ params: params(), startStep: startStep(), checkpointDir: checkpointDir(), maxSteps: trialInfo().maxSteps });
  shouldStop();
  for (let step = startStep() + 1; step <= trialInfo().maxSteps; step++) {
    const save = step % 2 === 0;
    if (save) {
      mkdirSync(checkpointDir(), { recursive: true });
      writeFileSync(join(checkpointDir(), 'state.json'), JSON.stringify({ step }));
    }
    const decision = await report(step, { loss: lr / step, val_accuracy: 1 - lr / step }, { checkpoint: save });
    note({ step, decision, shouldStop: shouldStop() });
    if (shouldStop()) break;
  }
  note('done');
} else if (mode === 'sigterm') {
  // Waits for answers; a SIGTERM while it waits must end the wait with 'stop'.
  shouldStop();
  for (let step = 1; step <= 100; step++) {
    const decision = await report(step, { loss: 1 / step });
    note({ step, decision, shouldStop: shouldStop() });
    if (shouldStop()) break;
  }
  note('done');
} else if (mode === 'unanswered') {
  // stdin is not a worker's pipe: no answer is awaited.
  for (let step = 1; step <= 3; step++) note({ step, decision: await report(step, { loss: 1 / step }) });
} else if (mode === 'invalid') {
  for (const [step, metrics] of [[0, { loss: 1 }], [1, { 'Val-Loss': 1 }], [1, { loss: Number.NaN }], [1, {}]] as const) {
    try {
      await report(step, metrics as Record<string, number>);
      note('accepted');
    } catch (error) {
      note(error instanceof TrainableError ? `${error.code}: ${error.message}` : String(error));
    }
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
