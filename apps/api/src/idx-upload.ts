// Reads an IDX upload (multipart/form-data) as it streams in: the text fields, and each file's bytes
// gunzipped when they start with the gzip magic, under one byte limit that counts what was sent and,
// separately, what it decompresses to (a small gzip bomb is refused as soon as it passes the limit).
// Nothing is stored here: the route checks and stores the whole upload once it has been read.
import { createGunzip } from 'node:zlib';
import { IDX_FILE_FIELDS, type IdxFileField } from '@hypersweep/datasets';
import busboy from 'busboy';
import type { Request } from 'express';
import { HttpError } from './errors.ts';

export interface IdxUploadParts {
  /** Text fields as sent (IdxUploadFields checks them). */
  fields: Record<string, string>;
  /** Decompressed file bytes by field. */
  files: Partial<Record<IdxFileField, Uint8Array>>;
}

const MAX_FIELD_BYTES = 1000;
const isFileField = (name: string): name is IdxFileField => (IDX_FILE_FIELDS as readonly string[]).includes(name);
/** A refusal in the middle of a body: the rest is not worth reading, so the connection closes after the answer. */
const closing = { Connection: 'close' };

function tooLarge(field: string, what: string, maxBytes: number): HttpError {
  return new HttpError('payload_too_large', `${field}: ${what} more than the limit of ${maxBytes} bytes (MAX_UPLOAD_BYTES)`, [{ path: field, message: `${what} more than ${maxBytes} bytes` }], closing);
}

/**
 * The parts of the request, files still as sent. Refuses another content type (415), a Content-Encoding
 * (415: compress each file with gzip instead), more than `maxBytes` sent (413, checked against
 * Content-Length first), unknown or repeated file fields and malformed multipart (400 naming the part).
 */
function readParts(req: Request, maxBytes: number): Promise<{ fields: Record<string, string>; raw: Partial<Record<IdxFileField, Buffer>> }> {
  if (!req.is('multipart/form-data')) {
    throw new HttpError('unsupported_media_type', 'upload the files as multipart/form-data', [
      { path: 'headers.content-type', message: `content-type ${req.get('content-type') ?? '(none)'} is not multipart/form-data` },
    ]);
  }
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    throw new HttpError('unsupported_media_type', `Content-Encoding ${encoding} is not taken here: gzip each file instead (the server detects it)`, [
      { path: 'headers.content-encoding', message: 'only identity' },
    ]);
  }
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge('body', 'the request is', maxBytes);

  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // Room for a few files past the four, so an unknown or repeated one is named rather than counted.
      parser = busboy({ headers: req.headers, limits: { fields: 10, files: 8, fieldSize: MAX_FIELD_BYTES, parts: 18 } });
    } catch (error) {
      // A multipart content type without a boundary, say.
      reject(new HttpError('invalid_request', `the multipart body cannot be read: ${(error as Error).message}`, [{ path: 'headers.content-type', message: (error as Error).message }]));
      return;
    }
    // No prototype: a field named __proto__ is kept (and refused by name) rather than dropped.
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    const raw: Partial<Record<IdxFileField, Buffer>> = {};
    const pending: Promise<void>[] = [];
    let sent = 0;
    let failed = false;
    const fail = (error: HttpError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      // Keep the socket draining until the answer has gone: the client reads the refusal, not a reset.
      req.resume();
      reject(error);
    };
    const bad = (path: string, message: string) => fail(new HttpError('invalid_request', `${path}: ${message}`, [{ path, message }], closing));

    const seen = new Set<string>();
    /** busboy passes a part without a name in its Content-Disposition as undefined. */
    const unnamed = (name: string | undefined) => typeof name !== 'string' || name === '';
    parser.on('file', (name, stream) => {
      if (failed) return void stream.resume();
      if (unnamed(name)) {
        stream.resume();
        return bad('body', 'a file part has no name in its Content-Disposition');
      }
      if (!isFileField(name)) {
        stream.resume();
        return bad(name, `is not a file field of this upload (${IDX_FILE_FIELDS.join(', ')})`);
      }
      if (seen.has(name)) {
        stream.resume();
        return bad(name, 'is sent more than once');
      }
      seen.add(name);
      const chunks: Buffer[] = [];
      pending.push(
        new Promise<void>((done) => {
          stream.on('data', (chunk: Buffer) => {
            sent += chunk.length;
            if (sent > maxBytes) return fail(tooLarge(name, 'the request sends', maxBytes));
            chunks.push(chunk);
          });
          stream.on('end', () => {
            raw[name] = Buffer.concat(chunks);
            done();
          });
          stream.on('error', () => done());
        }),
      );
    });
    parser.on('field', (name, value, info) => {
      if (unnamed(name)) return bad('body', 'a text part has no name in its Content-Disposition');
      if (isFileField(name)) return bad(name, 'must be a file part (with a filename), not a text field');
      if (Object.hasOwn(fields, name)) return bad(name, 'is sent more than once');
      if (info.valueTruncated) return bad(name, `is longer than ${MAX_FIELD_BYTES} bytes`);
      fields[name] = value;
    });
    parser.on('filesLimit', () => bad('body', 'has more than 8 files'));
    parser.on('fieldsLimit', () => bad('body', 'has more than 10 text fields'));
    parser.on('partsLimit', () => bad('body', 'has more than 18 parts'));
    parser.on('error', (error: Error) => bad('body', `is not valid multipart/form-data: ${error.message}`));
    parser.on('close', () => {
      void Promise.all(pending).then(() => {
        if (!failed) resolve({ fields, raw });
      });
    });
    req.on('aborted', () => bad('body', 'the request was aborted'));
    req.on('error', (error) => bad('body', `could not be read: ${error.message}`));
    req.pipe(parser);
  });
}

/**
 * `bytes` gunzipped when they start with the gzip magic (1f 8b), else as they are; at most `budget`
 * bytes out. Bad gzip data is a 400 naming the field and the compressed byte offset zlib stopped at.
 */
export function maybeGunzip(field: string, bytes: Buffer, budget: number, maxBytes: number): Promise<Buffer> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    if (bytes.length > budget) return Promise.reject(tooLarge(field, 'the files hold', maxBytes));
    return Promise.resolve(bytes);
  }
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let out = 0;
    let settled = false;
    gunzip.on('data', (chunk: Buffer) => {
      out += chunk.length;
      if (out > budget && !settled) {
        settled = true;
        gunzip.destroy();
        reject(tooLarge(field, 'the files decompress to', maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    gunzip.on('error', (error: Error) => {
      if (settled) return;
      settled = true;
      const at = gunzip.bytesWritten;
      const message = `is not a valid gzip stream: ${error.message} (near compressed byte ${at} of ${bytes.length})`;
      reject(new HttpError('invalid_request', `${field}: ${message}`, [{ path: field, message }]));
    });
    gunzip.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks));
    });
    gunzip.end(bytes);
  });
}

/**
 * The upload's fields and decompressed files. `maxBytes` bounds the request (all parts as sent) and,
 * separately, the sum of the decompressed files: what would be stored.
 */
export async function readIdxUpload(req: Request, maxBytes: number): Promise<IdxUploadParts> {
  const { fields, raw } = await readParts(req, maxBytes);
  const files: Partial<Record<IdxFileField, Uint8Array>> = {};
  let total = 0;
  for (const field of IDX_FILE_FIELDS) {
    const bytes = raw[field];
    if (bytes === undefined) continue;
    const plain = await maybeGunzip(field, bytes, maxBytes - total, maxBytes);
    total += plain.length;
    files[field] = new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
  }
  return { fields, files };
}
