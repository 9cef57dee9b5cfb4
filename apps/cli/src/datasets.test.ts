// `hypersweep datasets upload-idx`: what it sends (one multipart request with the files as read, gzip
// or not, and the fields), what it prints, and the command lines it refuses before sending anything.
// The real API's side is test/idx-upload.test.ts (through this command) and apps/api/test/idx-upload.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
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
    [['--name', 'x', '--train-images', 'nope.gz', '--train-labels', 'train-labels'], /--train-images: cannot read nope.gz: ENOENT/],
    [['--name', 'x', '--train-images', 'train-images.gz', '--train-labels', 'train-labels', '--num-classes', '300'], /--num-classes: "300" must be an integer from 1 to 256/],
    [['--name', 'x', '--train-images', 'train-images.gz', '--train-labels', 'train-labels', '--test-fraction', '1'], /--test-fraction: "1" must be a number in \(0, 1\)/],
  ])('refuses %j with exit code 2, sending nothing', async (args, message) => {
    const r = await cli(['datasets', 'upload-idx', ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.sent).toHaveLength(0);
  });

  it('names its subcommands', async () => {
    const r = await cli(['datasets', 'upload']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown datasets command "upload" \(list or upload-idx\)/);
  });
});
