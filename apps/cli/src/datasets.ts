// `hypersweep datasets list | upload-idx`: the datasets the API knows, and IDX image uploads
// (Fashion-MNIST, KMNIST, EMNIST… as downloaded: .gz or not) sent as one multipart request.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DatasetInfo } from '@hypersweep/schemas';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, clientFrom, parseCommandArgs, positiveInt, PROJECT_OPTION, PROJECT_USAGE, projectFrom, UsageError, writeLines, type CommandContext,
  HELP_OPTION,
  printUsage,
} from './command.ts';
import { formatTable } from './render.ts';

export const DATASETS_USAGE = `hypersweep datasets <list | upload-idx> [options]

hypersweep datasets list [--json]
  The built-in datasets and every upload.

hypersweep datasets upload-idx --name <name> --train-images <file> --train-labels <file>
                               [--test-images <file> --test-labels <file>] [options]
  Uploads an image dataset in IDX format (ubyte images [N, H, W] or [N, H, W, C] with C = 1
  or 3, ubyte labels [N]; each file gzip or not). Without test files, a stratified share of
  the training file (--test-fraction, default 0.1) is held out once as the test set.
  --num-classes <n>         classes (2..256; labels must be below it; default: largest label + 1)
  --test-fraction <f>       without test files: the held-out share, in (0, 1)
  --json                    print the stored dataset as JSON
${PROJECT_USAGE}
${CONNECTION_USAGE}`;


function describe(d: DatasetInfo): string[] {
  return [
    `dataset ${d.name} (${d.id}) stored`,
    `  ${d.description ?? d.kind}`,
    `  shape [${d.featureShape.join(', ')}], ${d.numClasses ?? '-'} classes, ${d.sizes.train} train / ${d.sizes.test} test examples`,
    `  use it in a sweep as  dataset: { type: idx, id: ${d.id} }`,
  ];
}

async function readInput(flag: string, path: string, ctx: CommandContext): Promise<Uint8Array> {
  try {
    return await readFile(resolve(ctx.cwd, path));
  } catch (error) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

async function runUploadIdx(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      ...CONNECTION_OPTIONS,
      ...HELP_OPTION,
      ...PROJECT_OPTION,
      name: { type: 'string' },
      'train-images': { type: 'string' },
      'train-labels': { type: 'string' },
      'test-images': { type: 'string' },
      'test-labels': { type: 'string' },
      'num-classes': { type: 'string' },
      'test-fraction': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    DATASETS_USAGE,
  );
  if (values.help) return printUsage(ctx, DATASETS_USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, DATASETS_USAGE);
  for (const flag of ['name', 'train-images', 'train-labels'] as const) if (values[flag] === undefined) throw new UsageError(`missing --${flag}`, DATASETS_USAGE);
  if ((values['test-images'] === undefined) !== (values['test-labels'] === undefined)) throw new UsageError('give --test-images and --test-labels together, or neither', DATASETS_USAGE);
  const numClasses = positiveInt('num-classes', values['num-classes'], 256);
  const fraction = values['test-fraction'];
  if (fraction !== undefined && !(Number(fraction) > 0 && Number(fraction) < 1)) throw new UsageError(`--test-fraction: "${fraction}" must be a number in (0, 1)`, DATASETS_USAGE);
  const client = clientFrom(values, ctx);
  const project = projectFrom(values, ctx, DATASETS_USAGE);
  const read = (flag: 'train-images' | 'train-labels' | 'test-images' | 'test-labels') => (values[flag] === undefined ? Promise.resolve(undefined) : readInput(flag, values[flag], ctx));
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([read('train-images'), read('train-labels'), read('test-images'), read('test-labels')]);
  const stored = await client.uploadIdxDataset({
    name: values.name!,
    trainImages: trainImages!,
    trainLabels: trainLabels!,
    testImages,
    testLabels,
    numClasses,
    testFraction: fraction === undefined ? undefined : Number(fraction),
    project,
  });
  if (values.json) ctx.stdout.write(JSON.stringify(stored, null, 2) + '\n');
  else writeLines(ctx.stdout, describe(stored));
  return 0;
}

async function runList(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...HELP_OPTION, json: { type: 'boolean', default: false } }, DATASETS_USAGE);
  if (values.help) return printUsage(ctx, DATASETS_USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, DATASETS_USAGE);
  const { items } = await clientFrom(values, ctx).listDatasets();
  if (values.json) {
    ctx.stdout.write(JSON.stringify(items, null, 2) + '\n');
    return 0;
  }
  writeLines(
    ctx.stdout,
    formatTable(
      [{ header: 'ID' }, { header: 'NAME' }, { header: 'KIND' }, { header: 'SHAPE' }, { header: 'CLASSES', align: 'right' }, { header: 'TRAIN', align: 'right' }, { header: 'TEST', align: 'right' }],
      items.map((d) => [d.id, d.name, d.kind, `[${d.featureShape.join(', ')}]`, d.numClasses === null ? '-' : String(d.numClasses), String(d.sizes.train), String(d.sizes.test)]),
    ),
  );
  return 0;
}

export async function runDatasets(argv: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list':
      return runList(rest, ctx);
    case 'upload-idx':
      return runUploadIdx(rest, ctx);
    case '--help':
    case '-h':
      return printUsage(ctx, DATASETS_USAGE);
    default:
      throw new UsageError(sub === undefined ? 'name a datasets command: list or upload-idx' : `unknown datasets command "${sub}" (list or upload-idx)`, DATASETS_USAGE);
  }
}
