// `hypersweep datasets list | upload-csv | upload-idx`: the datasets the API knows, CSV tables sent
// as text/csv, and IDX image uploads (Fashion-MNIST, KMNIST, EMNIST… as downloaded: .gz or not)
// sent as one multipart request.
import { readFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { ApiError, type CsvUploadOptions } from '@hypersweep/client';
import { CsvUploadQuery, type DatasetInfo } from '@hypersweep/schemas';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, clientFrom, parseCommandArgs, positiveInt, PROJECT_OPTION, PROJECT_USAGE, projectFrom, UsageError, ValidationFailure, writeLines, type CommandContext,
  HELP_OPTION,
  labelColumnArg,
  printUsage,
} from './command.ts';
import { formatTable } from './render.ts';

export const DATASETS_USAGE = `hypersweep datasets <list | upload-csv | upload-idx> [options]

hypersweep datasets list [--json]
  The built-in datasets and every upload.

hypersweep datasets upload-csv <file.csv> --label <column> [options]
  Uploads a CSV table (numeric features, one label column), read as UTF-8 text and sent as
  text/csv; the API splits its rows once into train, validation and test sets.
  --label <column>          the label column: a header name, or an index from 1 (as train's
                            --label; negative from the end, written --label=-1 for the last)
  --name <name>             1-100 letters, digits, space, _ . -, starting with a letter or digit
                            (default: the file's name without its extension, if it is such a name)
  --task <task>             classification (default) or regression
  --header <h>              whether the first row is a header: true, false or auto (default: a
                            header when --label is a name or the first row is not numeric)
  --delimiter <c>           the field separator, one character (default ","; a tab: $'\\t')
  --validation-fraction <f> share of the rows held out for validation, in [0, 1) (default 0.1)
  --test-fraction <f>       share of the rows held out as the test set, in [0, 1) (default 0.2)
  --json                    print the stored dataset as JSON

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
    `  ${d.description ?? `${d.kind}, ${d.task}`}`,
    `  shape [${d.featureShape.join(', ')}], ${d.numClasses === null ? 'no classes' : `${d.numClasses} classes`}, ${d.sizes.train} train / ${d.sizes.test} test examples`,
    `  use it in a sweep as  dataset: { type: ${d.kind}, id: ${d.id} }`,
  ];
}

const TASKS = ['classification', 'regression'] as const satisfies readonly CsvUploadOptions['task'][];
const HEADERS = ['true', 'false', 'auto'] as const satisfies readonly NonNullable<CsvUploadOptions['header']>[];

function oneOf<T extends string>(flag: string, value: string | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${flag}: "${value}" must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`, DATASETS_USAGE);
  return value as T;
}

function fractionIn01(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n < 1)) throw new UsageError(`--${flag}: "${value}" must be a number in [0, 1)`, DATASETS_USAGE);
  return n;
}

/** A query field checked by the API's own schema, so a value it would refuse is refused before the file is sent. */
function checked(flag: string, value: string, field: 'name' | 'labelColumn' | 'delimiter', what: string): string {
  const result = CsvUploadQuery.shape[field].safeParse(value);
  if (!result.success) throw new UsageError(`--${flag}: "${value}" ${what}: ${result.error.issues[0]?.message ?? 'invalid'}`, DATASETS_USAGE);
  return value;
}

/** --name, else the file's name without its extension when that is a dataset name. */
function datasetName(given: string | undefined, file: string): string {
  if (given !== undefined) return checked('name', given, 'name', 'is not a dataset name');
  const stem = basename(file, extname(file));
  if (!CsvUploadQuery.shape.name.safeParse(stem).success) throw new UsageError(`missing --name (the file's name "${stem}" is not a dataset name: 1-100 letters, digits, space, _ . -, starting with a letter or digit)`, DATASETS_USAGE);
  return stem;
}

/** The file as UTF-8 text; a ValidationFailure naming it (exit 1) when it cannot be read or is not UTF-8. */
async function readCsvText(path: string, ctx: CommandContext): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(resolve(ctx.cwd, path));
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new ValidationFailure(`cannot read ${path}${code ? ` (${code})` : ''}`, []);
  }
  try {
    // Fatal: a Latin-1 file would otherwise reach the API with U+FFFD in place of its accented letters.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationFailure(`${path} is not UTF-8 text (save it as UTF-8 and upload it again)`, []);
  }
}

/** The options both uploads take: the connection, --help, --project, --name and --json. */
const UPLOAD_OPTIONS = {
  ...CONNECTION_OPTIONS,
  ...HELP_OPTION,
  ...PROJECT_OPTION,
  name: { type: 'string' },
  'test-fraction': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

async function runUploadCsv(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      ...UPLOAD_OPTIONS,
      label: { type: 'string' },
      task: { type: 'string' },
      header: { type: 'string' },
      delimiter: { type: 'string' },
      'validation-fraction': { type: 'string' },
    },
    DATASETS_USAGE,
  );
  if (values.help) return printUsage(ctx, DATASETS_USAGE);
  const [file, extra] = positionals;
  if (file === undefined) throw new UsageError('name the CSV file to upload', DATASETS_USAGE);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`, DATASETS_USAGE);
  if (values.label === undefined) throw new UsageError('missing --label (the label column: a header name or an index from 1)', DATASETS_USAGE);
  const label = labelColumnArg(values.label);
  if (label === null) throw new UsageError('--label: columns count from 1 (-1 is the last)', DATASETS_USAGE);
  const query: CsvUploadOptions = {
    name: datasetName(values.name, file),
    labelColumn: checked('label', String(label), 'labelColumn', 'is not a label column'),
    task: oneOf('task', values.task, TASKS) ?? 'classification',
    header: oneOf('header', values.header, HEADERS),
    delimiter: values.delimiter === undefined ? undefined : checked('delimiter', values.delimiter, 'delimiter', 'is not a delimiter'),
    validationFraction: fractionIn01('validation-fraction', values['validation-fraction']),
    testFraction: fractionIn01('test-fraction', values['test-fraction']),
    project: projectFrom(values, ctx, DATASETS_USAGE),
  };
  if (query.validationFraction !== undefined && query.testFraction !== undefined && query.validationFraction + query.testFraction >= 1) {
    throw new UsageError(`--validation-fraction ${query.validationFraction} + --test-fraction ${query.testFraction} must be below 1 (rows must be left to train on)`, DATASETS_USAGE);
  }
  const client = clientFrom(values, ctx);
  const csv = await readCsvText(file, ctx);
  let stored;
  try {
    stored = await client.uploadCsvDataset(csv, query, { signal: ctx.signal });
  } catch (error) {
    // The API counts columns from 0: say which column its refusal means in the CLI's terms.
    if (error instanceof ApiError && typeof label === 'number' && label >= 0 && error.details.some((d) => d.path === 'labelColumn')) {
      ctx.stderr.write(`note: --label ${label + 1} is the API's labelColumn ${label} (it counts columns from 0)\n`);
    }
    throw error;
  }
  if (values.json) ctx.stdout.write(JSON.stringify(stored, null, 2) + '\n');
  else writeLines(ctx.stdout, describe(stored));
  return 0;
}

/** An IDX file's bytes; a ValidationFailure naming it (exit 1, as upload-csv) when it cannot be read. */
async function readInput(flag: string, path: string, ctx: CommandContext): Promise<Uint8Array> {
  try {
    return await readFile(resolve(ctx.cwd, path));
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new ValidationFailure(`--${flag}: cannot read ${path}${code ? ` (${code})` : ''}`, []);
  }
}

async function runUploadIdx(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      ...UPLOAD_OPTIONS,
      'train-images': { type: 'string' },
      'train-labels': { type: 'string' },
      'test-images': { type: 'string' },
      'test-labels': { type: 'string' },
      'num-classes': { type: 'string' },
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
    case 'upload-csv':
      return runUploadCsv(rest, ctx);
    case 'upload-idx':
      return runUploadIdx(rest, ctx);
    case '--help':
    case '-h':
      return printUsage(ctx, DATASETS_USAGE);
    default:
      throw new UsageError(sub === undefined ? 'name a datasets command: list, upload-csv or upload-idx' : `unknown datasets command "${sub}" (list, upload-csv or upload-idx)`, DATASETS_USAGE);
  }
}
