// `hypersweep datasets upload-idx`: what it sends (one multipart request with the files as read, gzip
// or not, and the fields), what it prints, and the command lines it refuses before sending anything.
// The real API's side is test/idx-upload.test.ts (through this command) and apps/api/test/idx-upload.test.ts.
// `hypersweep datasets upload-csv` against the node:http stand-in of the API (test/api-server.ts, which
// checks the query with the API's schema and parses the CSV with the API's parser): the request as it
// arrives, the defaults, the command lines refused before anything is sent, and the API's refusals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApi, TOKEN, type FakeApi } from '../test/api-server.ts';
import { runCli } from './cli.ts';
import type { CommandContext } from './command.ts';

const work = mkdtempSync(join(tmpdir(), 'hypersweep-cli-datasets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const images = gzipSync(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7]));
const labels = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 1, 0]);
writeFileSync(join(work, 'train-images.gz'), images);
writeFileSync(join(work, 'train-labels'), labels);

const STORED = {
  id: '11111111-0000-4000-8000-000000000000',
  name: 'fashion',
  kind: 'idx',
  description: 'IDX images 1×1 uint8, 2 classes, uploaded test set',
  task: 'classification',
  featureShape: [1, 1],
  numClasses: 2,
  sizes: { train: 60000, test: 10000 },
  createdAt: '2026-12-10T00:00:00.000Z',
};

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: { url: string; method: string; form: FormData | null }[] = [];
  const fetchStub = (async (input: string | URL | Request, init?: RequestInit) => {
    sent.push({ url: String(input), method: init?.method ?? 'GET', form: init?.body instanceof FormData ? init.body : null });
    return new Response(JSON.stringify(STORED), { status: 201, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const ctx: CommandContext = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: { HYPERSWEEP_URL: 'http://127.0.0.1:1', HYPERSWEEP_TOKEN: 't' },
    isTTY: false,
    columns: 120,
    rows: 40,
    cwd: work,
    fetch: fetchStub,
  };
  const code = await runCli(argv, ctx);
  return { code, out: out.join(''), err: err.join(''), sent };
}

describe('hypersweep datasets upload-idx', () => {
  it('sends the files as read and the fields in one multipart request, and prints how to use the dataset', async () => {
    const r = await cli(['datasets', 'upload-idx', '--name', 'fashion', '--train-images', 'train-images.gz', '--train-labels', 'train-labels', '--num-classes', '2', '--test-fraction', '0.2']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.sent).toHaveLength(1);
    const { url, method, form } = r.sent[0]!;
    expect([url, method]).toEqual(['http://127.0.0.1:1/api/v1/datasets/idx', 'POST']);
    expect(form!.get('name')).toBe('fashion');
    expect(form!.get('numClasses')).toBe('2');
    expect(form!.get('testFraction')).toBe('0.2');
    expect(new Uint8Array(await (form!.get('trainImages') as Blob).arrayBuffer())).toEqual(new Uint8Array(images));
    expect(new Uint8Array(await (form!.get('trainLabels') as Blob).arrayBuffer())).toEqual(labels);
    expect(form!.has('testImages')).toBe(false);
    expect(r.out).toContain(`dataset fashion (${STORED.id}) stored`);
    expect(r.out).toContain(`dataset: { type: idx, id: ${STORED.id} }`);
  });

  it.each([
    [['--train-images', 'train-images.gz', '--train-labels', 'train-labels'], /missing --name/],
    [['--name', 'x', '--train-images', 'train-images.gz'], /missing --train-labels/],
    [['--name', 'x', '--train-images', 'train-images.gz', '--train-labels', 'train-labels', '--test-images', 'train-images.gz'], /--test-images and --test-labels together/],
    [['--name', 'x', '--train-images', 'train-images.gz', '--train-labels', 'train-labels', '--num-classes', '300'], /--num-classes: "300" must be an integer from 1 to 256/],
    [['--name', 'x', '--train-images', 'train-images.gz', '--train-labels', 'train-labels', '--test-fraction', '1'], /--test-fraction: "1" must be a number in \(0, 1\)/],
  ])('refuses %j with exit code 2, sending nothing', async (args, message) => {
    const r = await cli(['datasets', 'upload-idx', ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.sent).toHaveLength(0);
  });

  it('names an IDX file it cannot read with exit code 1, as upload-csv does, sending nothing', async () => {
    const r = await cli(['datasets', 'upload-idx', '--name', 'x', '--train-images', 'nope.gz', '--train-labels', 'train-labels']);
    expect(r).toMatchObject({ code: 1, out: '', err: 'error: --train-images: cannot read nope.gz (ENOENT)\n' });
    expect(r.sent).toHaveLength(0);
  });

  it('names its subcommands', async () => {
    const r = await cli(['datasets', 'upload']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown datasets command "upload" \(list, upload-csv or upload-idx\)/);
    const none = await cli(['datasets']);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/name a datasets command: list, upload-csv or upload-idx/);
  });
});

// 40 rows, 2 classes of 20: enough for the API's stratified splits. Non-ASCII names check the body's encoding.
const IRIS = ['größe,breite,espèce', ...Array.from({ length: 40 }, (_, i) => `${(i * 0.7).toFixed(1)},${i % 5},${i % 2 === 0 ? 'setosa' : 'virginica'}`)].join('\n') + '\n';
const HEIGHTS = ['höhe;breite;länge', ...Array.from({ length: 40 }, (_, i) => `${i * 2};${i % 5};${(i * 0.3).toFixed(1)}`)].join('\n') + '\n';
writeFileSync(join(work, 'iris.csv'), IRIS);
writeFileSync(join(work, 'heights-semicolon.csv'), HEIGHTS);
writeFileSync(join(work, 'my data!.csv'), IRIS);
writeFileSync(join(work, 'latin1.csv'), Buffer.from('gr\xf6\xdfe,label\n1,a\n', 'latin1'));

describe('hypersweep datasets upload-csv', () => {
  let api: FakeApi;
  beforeEach(async () => {
    api = await startFakeApi({ sweepCount: 1, trialCount: 0 });
  });
  afterEach(async () => {
    await api.close();
  });

  async function upload(args: string[], env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const ctx: CommandContext = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      env: { HYPERSWEEP_URL: api.url, HYPERSWEEP_TOKEN: TOKEN, ...env },
      isTTY: false,
      columns: 120,
      rows: 40,
      cwd: work,
    };
    const code = await runCli(['datasets', 'upload-csv', ...args], ctx);
    return { code, out: out.join(''), err: err.join('') };
  }

  it('sends the file as read, as text/csv, with every option in the query, and prints how to use the dataset', async () => {
    const r = await upload(['iris.csv', '--name', 'iris 2', '--label', 'espèce', '--task', 'classification', '--header', 'true', '--validation-fraction', '0.25', '--test-fraction', '0.25', '--project', 'team-a']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(api.requests).toHaveLength(1);
    const sent = api.requests[0]!;
    expect([sent.method, sent.path]).toEqual(['POST', '/api/v1/datasets']);
    expect(Object.fromEntries(sent.query)).toEqual({ name: 'iris 2', labelColumn: 'espèce', task: 'classification', header: 'true', validationFraction: '0.25', testFraction: '0.25', project: 'team-a' });
    expect(sent.headers['content-type']).toBe('text/csv');
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.body).toBe(IRIS);
    const stored = api.datasets[0]!;
    expect(stored).toMatchObject({ name: 'iris 2', featureShape: [2], numClasses: 2, sizes: { train: 30, test: 10 } });
    expect(r.out).toBe(
      [
        `dataset iris 2 (${stored.id}) stored`,
        '  csv, classification',
        '  shape [2], 2 classes, 30 train / 10 test examples',
        `  use it in a sweep as  dataset: { type: csv, id: ${stored.id} }`,
        '',
      ].join('\n'),
    );
  });

  it("defaults: the file's name, classification, and only what was given (the API's defaults for the rest); --json prints the dataset", async () => {
    const r = await upload(['iris.csv', '--label=-1', '--json'], { HYPERSWEEP_PROJECT: 'team-b' });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(Object.fromEntries(api.requests[0]!.query)).toEqual({ name: 'iris', labelColumn: '-1', task: 'classification', project: 'team-b' });
    expect(JSON.parse(r.out)).toEqual(api.datasets[0]);
    expect(api.datasets[0]).toMatchObject({ name: 'iris', numClasses: 2, sizes: { train: 32, test: 8 } });
  });

  it('sends a regression table with its delimiter, and a column index counted from 1 (the API counts from 0)', async () => {
    const r = await upload(['heights-semicolon.csv', '--label', '1', '--task', 'regression', '--delimiter', ';', '--header', 'auto']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(Object.fromEntries(api.requests[0]!.query)).toEqual({ name: 'heights-semicolon', labelColumn: '0', task: 'regression', header: 'auto', delimiter: ';' });
    expect(api.datasets[0]).toMatchObject({ task: 'regression', featureShape: [2], numClasses: null });
    expect(r.out).toContain('shape [2], no classes, ');
  });

  it.each([
    [[], /name the CSV file to upload/],
    [['iris.csv', 'more.csv', '--label', 'x'], /unexpected argument "more.csv"/],
    [['iris.csv'], /missing --label/],
    [['iris.csv', '--label', ''], /--label: "" is not a label column: must not be empty/],
    [['iris.csv', '--label', '-1'], /argument is ambiguous/],
    [['iris.csv', '--label', '0'], /--label: columns count from 1 \(-1 is the last\)/],
    [['my data!.csv', '--label', 'x'], /missing --name \(the file's name "my data!" is not a dataset name/],
    [['iris.csv', '--label', 'x', '--name', 'iris?'], /--name: "iris\?" is not a dataset name: letters, digits, space, _ . - only/],
    [['iris.csv', '--label', 'x', '--name', ''], /--name: "" is not a dataset name: must not be empty/],
    [['iris.csv', '--label', 'x', '--task', 'ranking'], /--task: "ranking" must be classification or regression/],
    [['iris.csv', '--label', 'x', '--header', 'yes'], /--header: "yes" must be true, false or auto/],
    [['iris.csv', '--label', 'x', '--delimiter', ''], /--delimiter: "" is not a delimiter: must be one character/],
    [['iris.csv', '--label', 'x', '--delimiter', ';;'], /--delimiter: ";;" is not a delimiter: must be one character/],
    [['iris.csv', '--label', 'x', '--validation-fraction', '1'], /--validation-fraction: "1" must be a number in \[0, 1\)/],
    [['iris.csv', '--label', 'x', '--validation-fraction', ''], /--validation-fraction: "" must be a number in \[0, 1\)/],
    [['iris.csv', '--label', 'x', '--test-fraction', '-0.1'], /argument is ambiguous/],
    [['iris.csv', '--label', 'x', '--test-fraction=-0.1'], /--test-fraction: "-0.1" must be a number in \[0, 1\)/],
    [['iris.csv', '--label', 'x', '--test-fraction', 'half'], /--test-fraction: "half" must be a number in \[0, 1\)/],
    [['iris.csv', '--label', 'x', '--validation-fraction', '0.5', '--test-fraction', '0.5'], /--validation-fraction 0.5 \+ --test-fraction 0.5 must be below 1/],
    [['iris.csv', '--label', 'x', '--project', 'Team A'], /--project: "Team A" is not a project name/],
    [['iris.csv', '--label', 'x', '--labels', 'y'], /Unknown option '--labels'/],
  ])('refuses %j with exit code 2 and its usage, sending nothing', async (args, message) => {
    const r = await upload(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).toContain('hypersweep datasets upload-csv <file.csv>');
    expect(api.requests).toHaveLength(0);
  });

  it('names a file it cannot read, or that is not UTF-8, with exit code 1, sending nothing', async () => {
    expect(await upload(['missing.csv', '--label', 'x'])).toEqual({ code: 1, out: '', err: 'error: cannot read missing.csv (ENOENT)\n' });
    expect(await upload(['.', '--label', 'x', '--name', 'here'])).toEqual({ code: 1, out: '', err: 'error: cannot read . (EISDIR)\n' });
    expect(await upload(['latin1.csv', '--label', 'x'])).toEqual({ code: 1, out: '', err: 'error: latin1.csv is not UTF-8 text (save it as UTF-8 and upload it again)\n' });
    expect(api.requests).toHaveLength(0);
  });

  it("prints the API's refusals with their code, status and each detail path, exit code 1", async () => {
    const missing = await upload(['iris.csv', '--label', 'species']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^error \[invalid_request\] \(HTTP 400\): invalid CSV: .*no column named "species"/);
    expect(missing.err).toMatch(/\n {2}labelColumn: .*no column named "species" in the header \("größe", "breite", "espèce"\)\n$/);

    const outside = await upload(['iris.csv', '--label', '4']);
    expect(outside.code).toBe(1);
    expect(outside.err).toMatch(/^note: --label 4 is the API's labelColumn 3 \(it counts columns from 0\)\nerror \[invalid_request\] \(HTTP 400\).*\n {2}labelColumn: .*labelColumn 3 is outside the 3 columns/);

    expect((await upload(['iris.csv', '--label', '3'])).code).toBe(0);
    const taken = await upload(['iris.csv', '--label', '3']);
    expect(taken).toEqual({ code: 1, out: '', err: 'error [conflict] (HTTP 409): a dataset named iris exists\n  name: a dataset with this name exists\n' });
    expect(api.requests).toHaveLength(4);
    expect(api.datasets).toHaveLength(1);
  });
});
