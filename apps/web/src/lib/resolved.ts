// A trial's resolved spec: the sweep's model and training recipe with the trial's parameters
// applied (GET trial's `resolved`; null or absent for trials from before it existed). Read
// defensively: a shape this dashboard does not know shows as "not available", never as an error.
import { z } from 'zod';

const Layer = z.looseObject({ type: z.string() });
const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const ResolvedTrial = z.looseObject({
  model: z.looseObject({ inputShape: z.array(z.number()).optional(), layers: z.array(Layer), loss: z.string().optional() }),
  optimizer: z.looseObject({ type: z.string() }).optional(),
  schedule: z.looseObject({ type: z.string() }).nullable().optional(),
  batchSize: z.number().optional(),
  microbatches: z.number().optional(),
  epochs: z.number().optional(),
  earlyStopping: z.record(z.string(), z.unknown()).nullable().optional(),
  dataset: z.looseObject({ type: z.string() }).optional(),
});
export type ResolvedTrial = z.infer<typeof ResolvedTrial>;

export function resolvedOf(trial: { readonly resolved?: unknown }): ResolvedTrial | null {
  const r = ResolvedTrial.safeParse(trial.resolved);
  return r.success ? r.data : null;
}

/** One layer as a row: the common fields in their own columns, the rest as "key value" text. */
export interface LayerRow {
  readonly index: number;
  readonly type: string;
  readonly units: string;
  readonly activation: string;
  readonly rate: string;
  readonly other: string;
}

function text(v: unknown): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return `[${v.map(text).join(', ')}]`;
  if (Scalar.safeParse(v).success) return String(v);
  return JSON.stringify(v);
}

export function layerRows(model: ResolvedTrial['model']): LayerRow[] {
  return model.layers.map((layer, index) => {
    const { type, units, activation, rate, ...rest } = layer as Record<string, unknown> & { type: string };
    return {
      index,
      type,
      units: text(units),
      // A dense layer without activation is linear.
      activation: activation === undefined && type === 'dense' ? 'linear' : text(activation),
      rate: text(rate),
      other: Object.entries(rest).map(([k, v]) => `${k} ${text(v)}`).join(', '),
    };
  });
}

/** The key training settings as label → value, in reading order; absent ones left out. */
export function trainingSettings(r: ResolvedTrial): [string, string][] {
  const out: [string, string][] = [];
  const fields = (o: Record<string, unknown>) => Object.entries(o).filter(([k]) => k !== 'type').map(([k, v]) => `${k} ${text(v)}`).join(', ');
  if (r.epochs !== undefined) out.push(['epochs', String(r.epochs)]);
  if (r.batchSize !== undefined) out.push(['batch size', String(r.batchSize)]);
  if (r.microbatches !== undefined) out.push(['microbatches', String(r.microbatches)]);
  if (r.optimizer) out.push(['optimizer', [r.optimizer.type, fields(r.optimizer)].filter(Boolean).join(': ')]);
  if (r.schedule) out.push(['schedule', [r.schedule.type, fields(r.schedule)].filter(Boolean).join(': ')]);
  if (r.earlyStopping) out.push(['early stopping', fields(r.earlyStopping)]);
  if (r.dataset) out.push(['dataset', [r.dataset.type, fields(r.dataset)].filter(Boolean).join(': ')]);
  if (r.model.loss) out.push(['loss', r.model.loss]);
  return out;
}
