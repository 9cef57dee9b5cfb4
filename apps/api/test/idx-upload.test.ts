// POST /api/v1/datasets/idx against a real database: IDX image files generated here (ubyte, 1 and 3
// channels, gzip and not) are stored once and listed; every malformed one is a 4xx naming the file
// and its byte offset or header field, and leaves no row behind; sweeps can name what was stored.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MNIST_FILE_NAMES, encodeIdx, mnistDataDir } from '@hypersweep/datasets';
import { syntheticIdxImages } from '@hypersweep/datasets/testing';
import { listDatasets } from '@hypersweep/db';
import { ApiError, DatasetInfo, DatasetList, Sweep } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './harness.ts';

/** Small enough that a test can pass it, big enough for the valid uploads below. */
const MAX_UPLOAD_BYTES = 64 * 1024;

type Parts = Record<string, Uint8Array | string>;

function form(parts: Parts): FormData {
  const f = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value === 'string') f.append(name, value);
    else f.append(name, new Blob([new Uint8Array(value)]), `${name}.idx`);
  }
  return f;
}

const train = syntheticIdxImages({ count: 60, height: 6, width: 6, numClasses: 3, seed: 1 });
const test = syntheticIdxImages({ count: 15, height: 6, width: 6, numClasses: 3, seed: 2 });
const rgb = syntheticIdxImages({ count: 40, height: 4, width: 4, channels: 3, numClasses: 4, seed: 3 });
const good: Parts = { name: 'bands', trainImages: gzipSync(train.images), trainLabels: train.labels, testImages: test.images, testLabels: gzipSync(test.labels) };

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

describe('IDX dataset uploads', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) });
  });
  afterAll(async () => {
    await t?.close();
  });

  const upload = (parts: Parts) => t.request('/api/v1/datasets/idx', { method: 'POST', body: form(parts) });
  const stored = async () => (await listDatasets(t.db)).length;

  let bandsId = '';

  it('stores a gzip / plain 1-channel upload with its test pair, and lists it', async () => {
    const res = await upload(good);
    expect(res.status, await res.clone().text()).toBe(201);
    const info = DatasetInfo.parse(await res.json());
    expect(info).toMatchObject({ name: 'bands', kind: 'idx', task: 'classification', featureShape: [6, 6], numClasses: 3, sizes: { train: 60, test: 15 } });
    expect(res.headers.get('location')).toBe(`/api/v1/datasets/${info.id}`);
    bandsId = info.id;
    const list = DatasetList.parse(await (await t.request('/api/v1/datasets')).json());
    expect(list.items.find((d) => d.id === info.id)).toEqual(info);
    expect(DatasetInfo.parse(await (await t.request(`/api/v1/datasets/${info.id}`)).json())).toEqual(info);

    // What a worker builds from the row: the uploaded pixels and labels, test set as sent.
    const ds = await t.api.deps.datasets.get({ type: 'idx', id: info.id, scaling: 'none' });
    expect(ds.normalization).toEqual({ kind: 'affine', scale: 1, shift: 0 });
    expect(Array.from(ds.test.features)).toEqual(Array.from(test.pixels));
    expect(Array.from(ds.test.labels)).toEqual(Array.from(test.classes));
    expect(ds.train.count + ds.validation.count).toBe(60);
  });

  it('stores a rank-4 RGB upload without test files, holding out a seeded tenth', async () => {
    const res = await upload({ name: 'rgb', trainImages: rgb.images, trainLabels: gzipSync(rgb.labels), numClasses: '5' });
    expect(res.status, await res.clone().text()).toBe(201);
    const info = DatasetInfo.parse(await res.json());
    expect(info).toMatchObject({ kind: 'idx', featureShape: [4, 4, 3], numClasses: 5, sizes: { train: 36, test: 4 } });
    expect(info.description).toMatch(/held out from the training file \(0\.1\)/);
  });

  const trailing = Uint8Array.from([...train.images, 1, 2, 3]);
  const corpus: { name: string; parts: Parts; status: number; path: string; message: RegExp }[] = [
    { name: 'wrong magic', parts: { ...good, trainImages: withByte(train.images, 0, 0x42) }, status: 400, path: 'trainImages', message: /byte 0 \(magic\): magic number 0x42000803: not an IDX file/ },
    { name: 'a float type byte', parts: { ...good, trainLabels: withByte(train.labels, 2, 0x0d) }, status: 400, path: 'trainLabels', message: /byte 2 \(magic\).*not 0x08 \(ubyte\)/ },
    { name: 'labels where images go', parts: { ...good, trainImages: train.labels }, status: 400, path: 'trainImages', message: /byte 3 \(magic\).*declares rank 1/ },
    { name: 'dims that do not match the length', parts: { ...good, testImages: withByte(test.images, 7, 10) }, status: 400, path: 'testImages', message: /byte 376: header dims \[10, 6, 6\] need 376 bytes but the file has 180 more after them/ },
    { name: 'trailing bytes', parts: { ...good, trainImages: gzipSync(trailing) }, status: 400, path: 'trainImages', message: new RegExp(`byte ${train.images.length}: .*3 more after them`) },
    { name: 'truncated images (gzip)', parts: { ...good, trainImages: gzipSync(train.images.subarray(0, 1000)) }, status: 400, path: 'trainImages', message: /byte 1000: the file is truncated: header dims \[60, 6, 6\] need 2176 bytes .*27 whole images of 60/ },
    { name: 'a header cut short', parts: { ...good, testLabels: test.labels.subarray(0, 6) }, status: 400, path: 'testLabels', message: /byte 6 \(dims\[0\]\): the file ends inside the header/ },
    { name: 'label count ≠ image count', parts: { ...good, trainLabels: encodeIdx([59], train.classes.subarray(0, 59)) }, status: 400, path: 'trainLabels', message: /byte 4 \(dims\[0\]\): 59 labels for 60 images in trainImages/ },
    { name: 'a label at or above numClasses', parts: { ...good, numClasses: '2' }, status: 400, path: 'trainLabels', message: /byte 10: label 2 of example 2 is not a class id below 2/ },
    { name: 'a test label outside the training classes', parts: { ...good, testLabels: withByte(test.labels, 8 + 4, 7) }, status: 400, path: 'testLabels', message: /byte 12: label 7 of example 4 is not a class id below 3 \(the training labels are 0\.\.2\)/ },
    { name: 'test images of another size', parts: { ...good, testImages: encodeIdx([15, 6, 5], test.pixels.subarray(0, 450)) }, status: 400, path: 'testImages', message: /byte 12 \(dims\[2\]\): test images are \[6, 5\]/ },
    { name: 'four channels', parts: { ...good, trainImages: encodeIdx([60, 6, 3, 2], train.pixels) }, status: 400, path: 'trainImages', message: /byte 16 \(dims\[3\]\): 2 channels/ },
    { name: 'bad gzip data', parts: { ...good, trainLabels: Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]) }, status: 400, path: 'trainLabels', message: /not a valid gzip stream: .*near compressed byte \d+ of 14/ },
    { name: 'a truncated gzip stream', parts: { ...good, trainImages: gzipSync(train.images).subarray(0, 40) }, status: 400, path: 'trainImages', message: /not a valid gzip stream: unexpected end of file/ },
    { name: 'no training labels', parts: { name: 'x', trainImages: train.images }, status: 400, path: 'trainLabels', message: /required/ },
    { name: 'test images without labels', parts: { name: 'x', trainImages: train.images, trainLabels: train.labels, testImages: test.images }, status: 400, path: 'testLabels', message: /together/ },
    { name: 'an unknown file', parts: { ...good, validImages: test.images }, status: 400, path: 'validImages', message: /not a file field/ },
    { name: 'a file as text', parts: { ...good, trainLabels: 'labels' }, status: 400, path: 'trainLabels', message: /must be a file part/ },
    { name: 'an unknown text field', parts: { ...good, scaling: 'unit' }, status: 400, path: 'scaling', message: /not a known|unrecognized/i },
    { name: 'a bad numClasses', parts: { ...good, numClasses: '300' }, status: 400, path: 'numClasses', message: /256/ },
    // Taken as 16 and as 3 before: Number() reads hex and trims spaces.
    { name: 'a hex numClasses', parts: { ...good, numClasses: '0x10' }, status: 400, path: 'numClasses', message: /decimal digits/ },
    { name: 'a numClasses in spaces', parts: { ...good, numClasses: ' 3 ' }, status: 400, path: 'numClasses', message: /decimal digits/ },
    { name: 'a test fraction that holds out no image', parts: { name: 'x', trainImages: train.images, trainLabels: train.labels, testFraction: '0.001' }, status: 400, path: 'testFraction', message: /holds out none/ },
    // Once dropped silently (assigned to a plain object's prototype), while "constructor" was refused.
    { name: 'a __proto__ text field', parts: { ...good, ['__proto__']: 'x' }, status: 400, path: '__proto__', message: /not a known|unrecognized/i },
    { name: 'no name', parts: { ...good, name: '' }, status: 400, path: 'name', message: /empty/ },
    { name: 'files over the size limit', parts: { ...good, trainImages: new Uint8Array(MAX_UPLOAD_BYTES + 1) }, status: 413, path: 'body', message: /limit of 65536 bytes/ },
    { name: 'a gzip bomb', parts: { ...good, testImages: gzipSync(encodeIdx([100, 40, 40], new Uint8Array(160_000))) }, status: 413, path: 'testImages', message: /decompress to more than the limit of 65536 bytes/ },
  ];

  it.each(corpus)('refuses $name ($status naming $path) and stores nothing', async ({ parts, status, path, message }) => {
    const before = await stored();
    const res = await upload(parts);
    expect(res.status).toBe(status);
    const body = ApiError.parse(await res.json());
    const detail = body.error.details.find((d) => d.path === path);
    expect(detail, JSON.stringify(body)).toBeDefined();
    expect(`${body.error.message} ${detail!.message}`).toMatch(message);
    expect(await stored()).toBe(before);
  });

  it('refuses a part with no name in its Content-Disposition, naming the body', async () => {
    const before = await stored();
    for (const disposition of ['form-data', 'form-data; filename="x.idx"']) {
      const body = `--b\r\nContent-Disposition: ${disposition}\r\n\r\nvalue\r\n--b--\r\n`;
      const res = await t.request('/api/v1/datasets/idx', { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=b' } });
      expect(res.status, disposition).toBe(400);
      // Named "undefined" before.
      expect(ApiError.parse(await res.json()).error.details[0], disposition).toMatchObject({ path: 'body', message: expect.stringMatching(/has no name/) });
    }
    expect(await stored()).toBe(before);
  });

  it('counts the bytes of a chunked body as they stream in (no Content-Length to refuse it by)', async () => {
    const before = await stored();
    const request = new Request(t.url, { method: 'POST', body: form({ ...good, trainImages: new Uint8Array(MAX_UPLOAD_BYTES + 1) }) });
    // duplex: 'half' is how fetch streams a request body; the DOM RequestInit type does not know it yet.
    const init = { method: 'POST', body: request.body, headers: { 'content-type': request.headers.get('content-type')! }, duplex: 'half' } as RequestInit;
    const res = await t.request('/api/v1/datasets/idx', init);
    expect(res.status).toBe(413);
    expect(ApiError.parse(await res.json()).error.details[0]).toMatchObject({ path: 'trainImages', message: /the request sends more than 65536 bytes/ });
    expect(await stored()).toBe(before);
  });

  it('refuses another content type, a Content-Encoding, a taken name and a body without a boundary', async () => {
    const before = await stored();
    const json = await t.request('/api/v1/datasets/idx', { method: 'POST', json: { name: 'x' } });
    expect(json.status).toBe(415);
    expect(ApiError.parse(await json.json()).error.details[0]?.path).toBe('headers.content-type');
    const encoded = await t.request('/api/v1/datasets/idx', { method: 'POST', body: gzipSync('x'), headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-encoding': 'gzip' } });
    expect(encoded.status).toBe(415);
    expect(ApiError.parse(await encoded.json()).error.details[0]?.path).toBe('headers.content-encoding');
    const noBoundary = await t.request('/api/v1/datasets/idx', { method: 'POST', body: 'x', headers: { 'content-type': 'multipart/form-data' } });
    expect(noBoundary.status).toBe(400);
    expect(ApiError.parse(await noBoundary.json()).error.details[0]?.path).toBe('headers.content-type');
    const taken = await upload(good);
    expect(taken.status).toBe(409);
    expect(ApiError.parse(await taken.json()).error.details[0]?.path).toBe('name');
    expect(await stored()).toBe(before);
  });

  it('lets sweeps name an upload: checked against its image shape and classes at submission', async () => {
    const sweep = (model: unknown) => ({
      name: 'idx sweep',
      dataset: { type: 'idx', id: bandsId, scaling: 'unit', validationCount: 9, seed: 2 },
      model,
      training: { epochs: 1, batchSize: 16, optimizer: { type: 'adam', learningRate: 0.01 } },
      search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } }, budget: { maxTrials: 1 } },
      objective: { metric: 'val_accuracy' },
    });
    const mlp = (inputShape: number[], classes: number) => ({ inputShape, layers: [{ type: 'flatten' }, { type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: classes }], loss: 'softmax_cross_entropy' });
    const ok = await t.request('/api/v1/sweeps', { method: 'POST', json: sweep(mlp([6, 6], 3)) });
    expect(ok.status, await ok.clone().text()).toBe(201);
    expect(Sweep.parse(await ok.json()).spec).toMatchObject({ dataset: { type: 'idx', id: bandsId } });

    const shape = await t.request('/api/v1/sweeps', { method: 'POST', json: sweep(mlp([36], 3)) });
    expect(shape.status).toBe(400);
    expect(ApiError.parse(await shape.json()).error.details[0]).toMatchObject({ path: 'model.inputShape', message: /dataset "bands" has \[6, 6\]/ });
    const classes = await t.request('/api/v1/sweeps', { method: 'POST', json: sweep(mlp([6, 6], 10)) });
    expect(classes.status).toBe(400);
    expect(ApiError.parse(await classes.json()).error.details[0]).toMatchObject({ path: 'model.layers[2].units', message: /3 classes/ });
    // bands: 60 training images in 3 classes. A validation hold-out of 2 cannot hold each class.
    const tiny = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...sweep(mlp([6, 6], 3)), dataset: { type: 'idx', id: bandsId, validationCount: 2 } } });
    expect(tiny.status).toBe(400);
    expect(ApiError.parse(await tiny.json()).error.details[0]).toMatchObject({ path: 'dataset.validationCount', message: /^validation of 2 examples cannot hold one of each of the 3 classes/ });
    const missing = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...sweep(mlp([6, 6], 3)), dataset: { type: 'idx', id: '00000000-0000-4000-8000-000000000000' } } });
    expect(missing.status).toBe(400);
    expect(ApiError.parse(await missing.json()).error.details[0]?.path).toBe('dataset.id');
  });
});

describe('IDX uploads at the default limit', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('takes a whole MNIST-shaped dataset (Fashion-MNIST and KMNIST have the same files), gzip as distributed', async () => {
    const read = (key: keyof typeof MNIST_FILE_NAMES) => readFile(join(mnistDataDir(), MNIST_FILE_NAMES[key]));
    const f = new FormData();
    f.append('name', 'mnist-as-upload');
    for (const key of ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const) f.append(key, new Blob([new Uint8Array(gzipSync(await read(key), { level: 1 }))]), key);
    const res = await t.request('/api/v1/datasets/idx', { method: 'POST', body: f });
    expect(res.status, await res.clone().text()).toBe(201);
    const info = DatasetInfo.parse(await res.json());
    expect(info).toMatchObject({ featureShape: [28, 28], numClasses: 10, sizes: { train: 60_000, test: 10_000 } });
    // Built like the built-in MNIST: the same standardisation statistics for the same split.
    const upload = await t.api.deps.datasets.get({ type: 'idx', id: info.id, seed: 4 });
    const builtin = await t.api.deps.datasets.get({ type: 'mnist', seed: 4 });
    expect(upload.normalization).toEqual(builtin.normalization);
    expect(upload.validation.labels).toEqual(builtin.validation.labels);
  });
});
