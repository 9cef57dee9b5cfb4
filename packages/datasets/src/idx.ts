// A pure parser (and encoder) for the IDX tensor format of MNIST: big-endian header and data.
//
// Layout: 0x00 0x00 <dtype> <ndims>, then ndims big-endian uint32 dimensions, then the
// elements in row-major order, big-endian.
import { DatasetError } from './errors.ts';

export type IdxDtype = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxTensor {
  readonly dtype: IdxDtype;
  readonly dims: readonly number[];
  /** Row-major elements in host byte order. For u8 / i8 this is a view of the input bytes (no copy). */
  readonly data: IdxData;
}

interface DtypeInfo {
  readonly code: number;
  readonly bytes: number;
}

const DTYPES: Readonly<Record<IdxDtype, DtypeInfo>> = {
  u8: { code: 0x08, bytes: 1 },
  i8: { code: 0x09, bytes: 1 },
  i16: { code: 0x0b, bytes: 2 },
  i32: { code: 0x0c, bytes: 4 },
  f32: { code: 0x0d, bytes: 4 },
  f64: { code: 0x0e, bytes: 8 },
};

function dtypeOfCode(code: number): IdxDtype | undefined {
  for (const [name, info] of Object.entries(DTYPES)) {
    if (info.code === code) return name as IdxDtype;
  }
  return undefined;
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

/**
 * Parses one IDX file. Throws DatasetError IDX_BAD_MAGIC, IDX_BAD_DTYPE, IDX_TRUNCATED
 * (fewer bytes than the header promises) or IDX_SIZE_MISMATCH (trailing bytes).
 * `source` (e.g. a file name) only decorates messages.
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxTensor {
  if (bytes.byteLength < 4) {
    throw new DatasetError('IDX_TRUNCATED', `${source}: ${bytes.byteLength} bytes is shorter than the 4-byte IDX magic number`);
  }
  const b0 = bytes[0]!;
  const b1 = bytes[1]!;
  const typeByte = bytes[2]!;
  const ndims = bytes[3]!;
  if (b0 !== 0 || b1 !== 0) {
    throw new DatasetError(
      'IDX_BAD_MAGIC',
      `${source}: not an IDX file (magic number starts ${hex(b0)} ${hex(b1)}, expected 0x00 0x00)`,
    );
  }
  const dtype = dtypeOfCode(typeByte);
  if (dtype === undefined) {
    throw new DatasetError(
      'IDX_BAD_DTYPE',
      `${source}: unknown IDX type byte ${hex(typeByte)} (expected 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32 or 0x0e f64)`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.byteLength < headerBytes) {
    throw new DatasetError(
      'IDX_TRUNCATED',
      `${source}: header declares ${ndims} dimensions (${headerBytes} header bytes) but the data is only ${bytes.byteLength} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    count *= size;
  }
  const elementBytes = DTYPES[dtype].bytes;
  const expected = headerBytes + count * elementBytes;
  const shape = `[${dims.join(', ')}] ${dtype}`;
  if (bytes.byteLength < expected) {
    throw new DatasetError(
      'IDX_TRUNCATED',
      `${source}: header declares ${shape} (${expected} bytes) but the data is only ${bytes.byteLength} bytes`,
    );
  }
  if (bytes.byteLength > expected) {
    throw new DatasetError(
      'IDX_SIZE_MISMATCH',
      `${source}: header declares ${shape} (${expected} bytes) but the data is ${bytes.byteLength} bytes (${bytes.byteLength - expected} trailing)`,
    );
  }
  return { dtype, dims, data: decodeElements(dtype, view, headerBytes, count, bytes) };
}

function decodeElements(dtype: IdxDtype, view: DataView, offset: number, count: number, bytes: Uint8Array): IdxData {
  switch (dtype) {
    case 'u8':
      return bytes.subarray(offset, offset + count);
    case 'i8':
      return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count);
    case 'i16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'i32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'f32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'f64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

function dtypeOfData(data: IdxData): IdxDtype {
  if (data instanceof Uint8Array) return 'u8';
  if (data instanceof Int8Array) return 'i8';
  if (data instanceof Int16Array) return 'i16';
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Float32Array) return 'f32';
  return 'f64';
}

/** Encodes a tensor as IDX bytes (the inverse of parseIdx); used to write fixtures and exports. */
export function encodeIdx(dims: readonly number[], data: IdxData): Uint8Array {
  if (dims.length > 255) throw new DatasetError('INVALID_OPTION', `IDX allows at most 255 dimensions, got ${dims.length}`);
  let count = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new DatasetError('INVALID_OPTION', `IDX dimension must be a uint32, got ${d}`);
    count *= d;
  }
  if (count !== data.length) {
    throw new DatasetError('IDX_SIZE_MISMATCH', `dims [${dims.join(', ')}] hold ${count} elements but the data has ${data.length}`);
  }
  const dtype = dtypeOfData(data);
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + count * DTYPES[dtype].bytes);
  const view = new DataView(out.buffer);
  out[2] = DTYPES[dtype].code;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const at = headerBytes + i * DTYPES[dtype].bytes;
    const v = data[i]!;
    switch (dtype) {
      case 'u8':
        view.setUint8(at, v);
        break;
      case 'i8':
        view.setInt8(at, v);
        break;
      case 'i16':
        view.setInt16(at, v, false);
        break;
      case 'i32':
        view.setInt32(at, v, false);
        break;
      case 'f32':
        view.setFloat32(at, v, false);
        break;
      case 'f64':
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}
