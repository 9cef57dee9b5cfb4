// Checkpoints: a JSON manifest plus one buffer of little-endian float32 tensors.
import { z } from 'zod';
import { NnError } from './errors.ts';

export const CHECKPOINT_FORMAT = 'hypersweep-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface EarlyStoppingState {
  best: number | null;
  bestEpoch: number | null;
  wait: number;
}

// Metrics added after the first checkpoints were written default to null (not reported then).
const later = () => z.number().nullable().default(null);
const EpochMetricsSchema = z.object({
  epoch: z.number(),
  trainLoss: z.number(),
  trainAccuracy: z.number().nullable(),
  trainTop3Accuracy: later(),
  trainTop5Accuracy: later(),
  trainMae: later(),
  trainRmse: later(),
  valLoss: z.number().nullable(),
  valAccuracy: z.number().nullable(),
  valTop3Accuracy: later(),
  valTop5Accuracy: later(),
  valMae: later(),
  valRmse: later(),
  learningRate: z.number(),
  samplesPerSec: z.number(),
  seconds: z.number(),
  steps: z.number(),
});

export const CheckpointManifestSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  version: z.literal(CHECKPOINT_VERSION),
  // Specs are re-validated by the session that loads them.
  model: z.unknown(),
  optimizer: z.unknown(),
  schedule: z.unknown(),
  training: z.object({
    epochs: z.int(),
    batchSize: z.int(),
    seed: z.number(),
    clipNorm: z.number().nullable(),
    /** Microbatches per step: part of the arithmetic, so a resume must use the same number. */
    microbatches: z.int().min(1).default(1),
  }),
  dataset: z.object({
    name: z.string(),
    trainCount: z.int(),
    normalization: z.unknown(),
    classNames: z.array(z.string()).nullable(),
  }),
  epoch: z.int().min(0),
  step: z.int().min(0),
  rng: z.object({ key: z.tuple([z.int(), z.int()]) }),
  earlyStopping: z.object({ best: z.number().nullable(), bestEpoch: z.number().nullable(), wait: z.int() }),
  history: z.array(EpochMetricsSchema),
  params: z.array(z.object({ name: z.string(), offset: z.int(), shape: z.array(z.int()) })),
  paramCount: z.int(),
  tensors: z.array(z.object({ name: z.string(), byteOffset: z.int().min(0), length: z.int().min(0) })),
  byteOrder: z.literal('little'),
});
export type CheckpointManifest = z.infer<typeof CheckpointManifestSchema>;

export interface Checkpoint {
  readonly manifest: CheckpointManifest;
  /** Little-endian float32 tensors at the byte offsets the manifest lists. */
  readonly data: Uint8Array;
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeTensors(tensors: readonly { name: string; data: Float32Array }[]): {
  index: CheckpointManifest['tensors'];
  data: Uint8Array;
} {
  const total = tensors.reduce((a, t) => a + t.data.length * 4, 0);
  const data = new Uint8Array(total);
  const dv = new DataView(data.buffer);
  const index: CheckpointManifest['tensors'] = [];
  let off = 0;
  for (const t of tensors) {
    index.push({ name: t.name, byteOffset: off, length: t.data.length });
    if (littleEndianHost) data.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), off);
    else for (let i = 0; i < t.data.length; i++) dv.setFloat32(off + i * 4, t.data[i]!, true);
    off += t.data.length * 4;
  }
  return { index, data };
}

export function decodeTensors(ckpt: Checkpoint): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const dv = new DataView(ckpt.data.buffer, ckpt.data.byteOffset, ckpt.data.byteLength);
  for (const t of ckpt.manifest.tensors) {
    if (t.byteOffset + t.length * 4 > ckpt.data.byteLength) {
      throw new NnError('INVALID_CHECKPOINT', `tensor ${t.name} ends at byte ${t.byteOffset + t.length * 4}, past the ${ckpt.data.byteLength}-byte buffer`);
    }
    const a = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) a[i] = dv.getFloat32(t.byteOffset + i * 4, true);
    out.set(t.name, a);
  }
  return out;
}

/** Serialises a checkpoint to its two files: manifest.json text and the tensor bytes. */
export function serializeCheckpoint(ckpt: Checkpoint): { manifestJson: string; data: Uint8Array } {
  return { manifestJson: JSON.stringify(ckpt.manifest), data: ckpt.data };
}

export function parseCheckpoint(manifestJson: string, data: Uint8Array): Checkpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(manifestJson);
  } catch (e) {
    throw new NnError('INVALID_CHECKPOINT', `checkpoint manifest is not JSON: ${(e as Error).message}`);
  }
  const r = CheckpointManifestSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new NnError('INVALID_CHECKPOINT', `checkpoint manifest: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'}`);
  }
  return { manifest: r.data, data };
}

/**
 * Equality of two JSON values regardless of object key order: a manifest stored in a jsonb
 * column comes back with its keys reordered. Keys whose value is undefined are ignored.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(rb, k) && jsonEqual(ra[k], rb[k]));
}
