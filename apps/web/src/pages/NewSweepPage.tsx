// New sweep: a form for the common case (any of its fields can be tuned into a search-space
// parameter) and a JSON/YAML editor, both validated client-side with the API's own
// CreateSweepRequest schema; server errors are shown at the field their path names.
import { ACTIVATIONS } from '@hypersweep/nn';
import { CreateSweepRequest, OPTIMIZER_TYPES, builtinMetricsFor, naturalMode, zodIssuesToDetails, type CreateSweepRequestInput, type ErrorDetail } from '@hypersweep/schemas';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError } from '@hypersweep/client';
import { useApp } from '../app/context.tsx';
import { useAsync } from '../app/hooks.ts';
import { ErrorBanner, Field } from '../components/ui.tsx';
import { ProjectSelect, useTargetProject } from '../components/ProjectSelect.tsx';
import { splitProjectErrors } from '../lib/projects.ts';
import {
  BUILTIN_DATASETS,
  SAMPLER_TYPES,
  SCALINGS,
  SCHEDULE_TYPES,
  SCHEDULER_TYPES,
  SEARCHABLE_ACTIVATIONS,
  TEMPLATES,
  TUNE_TYPES,
  activeTunes,
  formToRequest,
  modelOf,
  placeErrors,
  requestToForm,
  shorthandReplaced,
  toggleTune,
  tuneOf,
  type DatasetShape,
  type FormField,
  type HiddenActivation,
  type OptimizerType,
  type PlacedErrors,
  type SweepForm,
  type TuneTarget,
  type TuneType,
  type TunedParam,
} from '../lib/sweep-form.ts';
import { spaceParamNames } from '../lib/parallel.ts';
import { formatSpec, parseSpecText, type SpecFormat } from '../lib/spec-text.ts';

type Tab = 'form' | 'json';

function validate(request: unknown): ErrorDetail[] {
  const r = CreateSweepRequest.safeParse(request);
  return r.success ? [] : zodIssuesToDetails(r.error);
}

function newKey(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `k-${Date.now()}-${performance.now()}`;
}

export function NewSweepPage() {
  const { api, navigate } = useApp();
  const datasetsState = useAsync((signal) => api.listDatasets({ signal }), [api]);
  const datasets: DatasetShape[] = useMemo(() => {
    const items = datasetsState.data?.items;
    if (!items) return [...BUILTIN_DATASETS];
    return items.map((d) => ({
      id: d.id,
      kind: d.kind === 'csv' ? 'csv' : d.id === 'spirals' ? 'spirals' : 'mnist',
      featureShape: d.featureShape,
      numClasses: d.task === 'classification' ? d.numClasses : null,
    }));
  }, [datasetsState.data]);
  const datasetNames = new Map((datasetsState.data?.items ?? []).map((d) => [d.id, d.name]));

  const [tab, setTab] = useState<Tab>('form');
  const [templateId, setTemplateId] = useState(TEMPLATES[0]!.id);
  const [form, setForm] = useState<SweepForm>(() => TEMPLATES[0]!.form());
  const [json, setJson] = useState('');
  const [format, setFormat] = useState<SpecFormat>('json');
  const [jsonNote, setJsonNote] = useState<string | null>(null);
  const [showErrors, setShowErrors] = useState(false);
  const [serverErrors, setServerErrors] = useState<ErrorDetail[] | null>(null);
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const idempotency = useRef<{ key: string; body: string } | null>(null);
  const target = useTargetProject();

  const request = useMemo(() => formToRequest(form, datasets), [form, datasets]);
  const { layerFields, model } = useMemo(() => modelOf(form, datasets), [form, datasets]);
  const tunes = useMemo(() => activeTunes(form, datasets), [form, datasets]);
  const tunedNames = useMemo(() => tunes.map((t) => t.name), [tunes]);
  const editorRef = useRef<HTMLTextAreaElement>(null);

  // The editor's text parsed, or its syntax error with where it is.
  const jsonParsed = useMemo((): { value: unknown } | { syntax: string } => {
    const parsed = parseSpecText(json, format);
    if ('value' in parsed) return parsed;
    return { syntax: parsed.line !== null ? `line ${parsed.line}${parsed.column !== null ? `, column ${parsed.column}` : ''}: ${parsed.error}` : parsed.error };
  }, [json, format]);

  const projectProblem = target.problem;
  const clientDetails = useMemo(() => {
    const spec = tab === 'form' ? validate(request) : 'value' in jsonParsed ? validate(jsonParsed.value) : [{ path: '', message: `invalid ${format.toUpperCase()}: ${jsonParsed.syntax}` }];
    return projectProblem ? [projectProblem, ...spec] : spec;
  }, [tab, request, jsonParsed, format, projectProblem]);
  const details = serverErrors ?? (showErrors ? clientDetails : []);
  // The project is no field of the body: its problems (the form's check, the API's refusals naming `project`) show at the select.
  const { project: projectErrors, rest: specDetails } = useMemo(() => splitProjectErrors(details), [details]);
  const placed: PlacedErrors = useMemo(() => placeErrors(specDetails, layerFields, tunedNames), [specDetails, layerFields, tunedNames]);
  const err = (f: FormField) => placed.fields[f];

  // Edits clear the server's verdict on the previous request.
  useEffect(() => setServerErrors(null), [form, json, target.selected]);

  function applyTemplate(id: string) {
    const t = TEMPLATES.find((x) => x.id === id);
    if (!t) return;
    setTemplateId(id);
    const f = t.form();
    setForm(f);
    setJson(formatSpec(formToRequest(f, datasets), format));
    setShowErrors(false);
  }

  function switchTab(next: Tab) {
    if (next === tab) return;
    if (next === 'json') {
      setJson(formatSpec(request, format));
      setJsonNote(null);
      setTab('json');
      return;
    }
    if (!('value' in jsonParsed)) {
      setJsonNote(`Fix the ${format.toUpperCase()} first: ${jsonParsed.syntax}`);
      return;
    }
    const back = requestToForm(jsonParsed.value);
    if ('reason' in back) {
      setJsonNote(`This request cannot be shown in the form (${back.reason}); keep editing it here.`);
      return;
    }
    setForm(back.form);
    setJsonNote(null);
    setTab('form');
  }

  function changeFormat(next: SpecFormat) {
    if (next === format) return;
    if ('value' in jsonParsed) {
      setJson(formatSpec(jsonParsed.value, next));
      setJsonNote(null);
    } else {
      setJsonNote(`The text is kept as it is: fix it for ${next.toUpperCase()}.`);
    }
    setFormat(next);
  }

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setShowErrors(true);
    setSubmitError(null);
    const body = tab === 'form' ? request : 'value' in jsonParsed ? jsonParsed.value : undefined;
    if (clientDetails.length > 0 || body === undefined) {
      requestAnimationFrame(() => document.querySelector<HTMLElement>('[aria-invalid="true"], .form-summary')?.focus());
      return;
    }
    const project = target.project;
    // A key per body and project: the same body sent to another project is another sweep.
    const text = JSON.stringify([project ?? null, body]);
    if (!idempotency.current || idempotency.current.body !== text) idempotency.current = { key: newKey(), body: text };
    setBusy(true);
    try {
      // The JSON tab sends what the user wrote, checked or not: the API's errors show at their fields.
      const sweep = await api.createSweep(body as CreateSweepRequestInput, { idempotencyKey: idempotency.current.key, project });
      target.remember();
      navigate(`/sweeps/${sweep.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.details.length > 0) setServerErrors([...error.details]);
      setSubmitError(error);
    } finally {
      setBusy(false);
    }
  }

  const set = <K extends keyof SweepForm>(key: K, value: SweepForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const setSpace = <K extends keyof SweepForm['space']>(key: K, patch: Partial<SweepForm['space'][K]>) =>
    setForm((f) => ({ ...f, space: { ...f.space, [key]: { ...f.space[key], ...patch } } }));
  const text = (key: keyof SweepForm, path: FormField, label: string, opts: { hint?: string; inputMode?: 'numeric' | 'decimal'; placeholder?: string; tune?: TuneTarget } = {}) => (
    <Field label={label} path={path} errors={err(path)} hint={opts.hint}>
      {(p) => {
        const input = (
          <input {...p} type="text" inputMode={opts.inputMode} placeholder={opts.placeholder} value={form[key] as string} disabled={!!opts.tune && !!tuneOf(form, opts.tune)} onChange={(e) => set(key, e.target.value as never)} />
        );
        return opts.tune ? (
          <span className="inline">
            {input}
            {tuneButton(opts.tune, label.toLowerCase())}
          </span>
        ) : (
          input
        );
      }}
    </Field>
  );
  const isMnist = datasets.find((d) => d.id === form.dataset)?.kind === 'mnist';
  const datasetKind = datasets.find((d) => d.id === form.dataset)?.kind ?? 'csv';

  // "Tune this": the field becomes `{ $param: name }` and its parameter appears under Search space.
  const tuneButton = (target: TuneTarget, what: string) => {
    const t = tuneOf(form, target);
    return (
      <button
        type="button"
        className={`small tune${t ? ' tuned' : ''}`}
        aria-pressed={!!t}
        title={t ? `Tuned as search.space.${t.name}; click to use a fixed value again` : `Tune ${what}: make it a search-space parameter`}
        onClick={() => setForm((f) => toggleTune(f, target, datasets))}
        data-testid={`tune-${target}`}
      >
        {t ? `tuned: ${t.name}` : 'tune'}
      </button>
    );
  };
  const setTune = (target: TuneTarget, patch: Partial<TunedParam>) => setForm((f) => ({ ...f, tuned: f.tuned.map((t) => (t.target === target ? { ...t, ...patch } : t)) }));
  const hiddenUnits = form.hidden.split(',').map((u) => u.trim()).filter((u) => u !== '');
  const replaced = (row: keyof SweepForm['space']) => shorthandReplaced(form, row, datasets);
  const metrics = builtinMetricsFor(model.loss);
  const metricChoices = metrics.includes(form.objective) ? metrics : [form.objective, ...metrics];
  const objectiveDirection = naturalMode(form.objective);

  // The editor's parameters, for inserting references to them at the cursor.
  const editorParams = useMemo(() => {
    if (!('value' in jsonParsed)) return [];
    const space = (jsonParsed.value as { search?: { space?: unknown } } | null)?.search?.space;
    return space !== null && typeof space === 'object' && !Array.isArray(space) ? spaceParamNames(space as Record<string, unknown>) : [];
  }, [jsonParsed]);
  function insertReference(name: string) {
    const el = editorRef.current;
    const snippet = format === 'json' ? `{ "$param": ${JSON.stringify(name)} }` : `{ $param: ${name} }`;
    const start = el?.selectionStart ?? json.length;
    const end = el?.selectionEnd ?? json.length;
    setJson(json.slice(0, start) + snippet + json.slice(end));
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(start + snippet.length, start + snippet.length);
    });
  }

  return (
    <main id="main" className="page new-sweep">
      <div className="page-head">
        <h1>New sweep</h1>
        <label className="template">
          Template{' '}
          <select value={templateId} onChange={(e) => applyTemplate(e.target.value)} data-testid="template-select">
            {TEMPLATES.map((t) => (
              <option key={t.id} value={t.id}>
                {t.title}
              </option>
            ))}
          </select>
        </label>
      </div>

      <div role="tablist" aria-label="Editor" className="tabs">
        <button type="button" role="tab" id="tab-form" aria-selected={tab === 'form'} aria-controls="panel-form" onClick={() => switchTab('form')} data-testid="tab-form">
          Form
        </button>
        <button type="button" role="tab" id="tab-json" aria-selected={tab === 'json'} aria-controls="panel-json" onClick={() => switchTab('json')} data-testid="tab-json">
          JSON / YAML
        </button>
      </div>

      <form onSubmit={submit} noValidate data-testid="new-sweep-form">
        {details.length > 0 ? (
          <div className="form-summary" role="alert" tabIndex={-1} data-testid="form-errors">
            <p>
              {serverErrors ? 'The API refused the sweep' : 'The sweep is not valid yet'}: {details.length} problem{details.length === 1 ? '' : 's'}.
            </p>
            {(tab === 'json' ? specDetails : placed.general).length > 0 ? (
              <ul>
                {(tab === 'json' ? specDetails : placed.general).map((d, i) => (
                  <li key={i} data-testid="form-error" data-path={d.path}>
                    {d.path ? <code>{d.path}</code> : 'request'}: {d.message}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        ) : null}
        {submitError && !(submitError instanceof ApiError && submitError.details.length > 0) ? <ErrorBanner error={submitError} /> : null}

        <div className="project-target">
          <ProjectSelect target={target} errors={projectErrors} hint="Where the sweep runs: its quotas and who sees it." />
        </div>

        {tab === 'json' ? (
          <div role="tabpanel" id="panel-json" aria-labelledby="tab-json">
            {jsonNote ? (
              <p className="note" role="status" data-testid="json-note">
                {jsonNote}
              </p>
            ) : null}
            <fieldset className="state-filter" data-testid="editor-format">
              <legend>Format</legend>
              {(['json', 'yaml'] as const).map((f) => (
                <label key={f}>
                  <input type="radio" name="format" checked={format === f} onChange={() => changeFormat(f)} data-testid={`editor-format-${f}`} />
                  {f.toUpperCase()}
                </label>
              ))}
            </fieldset>
            <label htmlFor="sweep-json">CreateSweepRequest ({format.toUpperCase()})</label>
            <textarea ref={editorRef} id="sweep-json" className="json-editor" spellCheck={false} value={json} onChange={(e) => setJson(e.target.value)} rows={28} data-testid="json-editor" aria-invalid={details.length > 0} />
            <p className="hint" data-testid="param-references">
              Any value of model, training or dataset may be a reference to a parameter of search.space:{' '}
              <code>{format === 'json' ? '{ "$param": "units_1" }' : '{ $param: units_1 }'}</code>.{' '}
              {editorParams.length > 0 ? 'Insert at the cursor: ' : null}
              {editorParams.map((name) => (
                <button key={name} type="button" className="small" onClick={() => insertReference(name)} data-testid="param-insert" data-param={name}>
                  {name}
                </button>
              ))}
            </p>
          </div>
        ) : (
          <div role="tabpanel" id="panel-form" aria-labelledby="tab-form" className="form-grid">
            <fieldset>
              <legend>Sweep</legend>
              {text('name', 'name', 'Name')}
              <Field label="Description" path="description" errors={err('description')}>
                {(p) => <textarea {...p} rows={2} value={form.description} onChange={(e) => set('description', e.target.value)} />}
              </Field>
              <Field
                label="Objective"
                path="objective.metric"
                errors={[...(err('objective.metric') ?? []), ...(err('objective') ?? [])]}
                hint={objectiveDirection ? `The metrics this model reports; ${form.objective} is ${objectiveDirection === 'minimize' ? 'minimised' : 'maximised'}.` : 'The metrics this model reports.'}
              >
                {(p) => (
                  <select {...p} value={form.objective} onChange={(e) => setForm((f) => ({ ...f, objective: e.target.value, objectiveMode: '' }))}>
                    {metricChoices.map((m) => (
                      <option key={m}>{m}</option>
                    ))}
                  </select>
                )}
              </Field>
              {!objectiveDirection || form.objectiveMode ? (
                <Field label="Direction" path="objective.mode" errors={err('objective.mode')}>
                  {(p) => (
                    <select {...p} value={form.objectiveMode} onChange={(e) => set('objectiveMode', e.target.value as SweepForm['objectiveMode'])}>
                      <option value="">{objectiveDirection ? `default (${objectiveDirection})` : 'choose…'}</option>
                      <option value="minimize">minimize</option>
                      <option value="maximize">maximize</option>
                    </select>
                  )}
                </Field>
              ) : null}
            </fieldset>

            <fieldset>
              <legend>Data</legend>
              <Field label="Dataset" path="dataset" errors={err('dataset')}>
                {(p) => (
                  <select {...p} value={form.dataset} onChange={(e) => set('dataset', e.target.value)}>
                    {datasets.map((d) => (
                      <option key={d.id} value={d.id}>
                        {datasetNames.get(d.id) ?? d.id}
                        {d.kind === 'csv' ? ' (CSV)' : ''}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              {isMnist ? text('limitTrain', 'dataset.limitTrain', 'Training examples', { inputMode: 'numeric', placeholder: 'all 60000' }) : null}
              {isMnist ? text('limitTest', 'dataset.limitTest', 'Test examples', { inputMode: 'numeric', placeholder: 'all 10000' }) : null}
              {form.dataset === 'mnist' || form.dataset === 'spirals' ? text('validationFraction', 'dataset.validationFraction', 'Validation fraction', { inputMode: 'decimal', placeholder: 'default' }) : null}
              {datasetKind !== 'spirals' ? (
                <Field label="Input scaling" path="dataset.scaling" errors={err('dataset.scaling')}>
                  {(p) => (
                    <span className="inline">
                      <select {...p} value={form.scaling} disabled={!!tuneOf(form, 'scaling')} onChange={(e) => set('scaling', e.target.value as SweepForm['scaling'])}>
                        <option value="">default (standardize)</option>
                        {SCALINGS.filter((x) => datasetKind !== 'csv' || x !== 'unit').map((x) => (
                          <option key={x}>{x}</option>
                        ))}
                      </select>
                      {tuneButton('scaling', 'input scaling')}
                    </span>
                  )}
                </Field>
              ) : null}
            </fieldset>

            <fieldset>
              <legend>Model</legend>
              {text('hidden', 'model.hidden', 'Hidden layers (units)', { hint: 'Comma-separated, e.g. 128, 64' })}
              {hiddenUnits.length > 0 ? (
                <ol className="layer-tunes" aria-label="Tune per hidden layer" data-testid="layer-tunes">
                  {hiddenUnits.map((u, i) => (
                    <li key={i} data-testid="layer-tune" data-layer={i + 1}>
                      <span>
                        layer {i + 1} ({u} units)
                      </span>
                      {tuneButton(`units:${i + 1}`, `the units of layer ${i + 1}`)}
                      {tuneButton(`activation:${i + 1}`, `the activation of layer ${i + 1}`)}
                      {form.dropoutLayer ? tuneButton(`dropout:${i + 1}`, `the dropout rate after layer ${i + 1}`) : null}
                    </li>
                  ))}
                </ol>
              ) : null}
              <Field label="Hidden activation" path="model.activation" errors={err('model.activation')}>
                {(p) => (
                  <select {...p} value={form.activation} onChange={(e) => set('activation', e.target.value as HiddenActivation)}>
                    {ACTIVATIONS.filter((a) => a !== 'softmax').map((a) => (
                      <option key={a}>{a}</option>
                    ))}
                  </select>
                )}
              </Field>
              <Field label="Dropout after each hidden layer" path="model.dropout" errors={err('model.dropout')}>
                {(p) => (
                  <span className="inline">
                    <input {...p} type="checkbox" checked={form.dropoutLayer} onChange={(e) => set('dropoutLayer', e.target.checked)} />
                    <input type="text" inputMode="decimal" aria-label="Dropout rate" value={form.dropoutRate} disabled={!form.dropoutLayer} onChange={(e) => set('dropoutRate', e.target.value)} data-testid="field-model.dropoutRate" />
                  </span>
                )}
              </Field>
            </fieldset>

            <fieldset>
              <legend>Training</legend>
              {text('epochs', 'training.epochs', 'Epochs', { inputMode: 'numeric', tune: 'epochs' })}
              {text('batchSize', 'training.batchSize', 'Batch size', { inputMode: 'numeric', tune: 'batchSize' })}
              {text('microbatches', 'training.microbatches', 'Microbatches', { inputMode: 'numeric', hint: 'Data-parallel split of each batch; blank: 4 for batches ≥ 64, 2 from 32, else 1' })}
              <Field label="Optimizer" path="training.optimizer.type" errors={err('training.optimizer.type')}>
                {(p) => (
                  <span className="inline">
                    <select {...p} value={form.optimizer} disabled={!!tuneOf(form, 'optimizer')} onChange={(e) => set('optimizer', e.target.value as OptimizerType)}>
                      {OPTIMIZER_TYPES.map((o) => (
                        <option key={o}>{o}</option>
                      ))}
                    </select>
                    {tuneButton('optimizer', 'the optimizer')}
                  </span>
                )}
              </Field>
              {text('learningRate', 'training.optimizer.learningRate', 'Learning rate', { inputMode: 'decimal', tune: 'learningRate' })}
              <Field label="Learning-rate schedule" path="training.schedule" errors={err('training.schedule')}>
                {(p) => (
                  <select {...p} value={form.schedule} onChange={(e) => set('schedule', e.target.value as SweepForm['schedule'])}>
                    <option value="">none (constant)</option>
                    {SCHEDULE_TYPES.map((x) => (
                      <option key={x}>{x}</option>
                    ))}
                  </select>
                )}
              </Field>
              {form.schedule ? text('warmupEpochs', 'training.schedule.warmupEpochs', 'Warm-up epochs', { inputMode: 'numeric', tune: 'warmupEpochs' }) : null}
            </fieldset>

            <fieldset>
              <legend>Sampler</legend>
              <Field label="Sampler" path="search.sampler" errors={err('search.sampler')}>
                {(p) => (
                  <select {...p} value={form.sampler} onChange={(e) => set('sampler', e.target.value as SweepForm['sampler'])}>
                    {SAMPLER_TYPES.map((s) => (
                      <option key={s}>{s}</option>
                    ))}
                  </select>
                )}
              </Field>
              {form.sampler === 'tpe' ? text('tpeStartupTrials', 'search.sampler.nStartupTrials', 'Random start-up trials', { inputMode: 'numeric', placeholder: 'default' }) : null}
              {form.sampler === 'grid' ? text('gridPointsPerParam', 'search.sampler.pointsPerParam', 'Grid points per parameter', { inputMode: 'numeric', placeholder: 'default' }) : null}
              {text('seed', 'search.seed', 'Seed', { inputMode: 'numeric' })}
            </fieldset>

            <fieldset>
              <legend>Scheduler (early stopping)</legend>
              <Field label="Scheduler" path="search.scheduler" errors={[...(err('search.scheduler') ?? []), ...(err('search.scheduler.maxResource') ?? [])]}>
                {(p) => (
                  <select {...p} value={form.scheduler} onChange={(e) => set('scheduler', e.target.value as SweepForm['scheduler'])}>
                    {SCHEDULER_TYPES.map((s) => (
                      <option key={s}>{s}</option>
                    ))}
                  </select>
                )}
              </Field>
              {form.scheduler === 'asha' || form.scheduler === 'hyperband' ? (
                <>
                  {text('reductionFactor', 'search.scheduler.reductionFactor', 'Reduction factor', { inputMode: 'decimal', placeholder: 'default' })}
                  {text('minResource', 'search.scheduler.minResource', 'Min epochs', { inputMode: 'decimal', placeholder: 'default' })}
                </>
              ) : null}
              {form.scheduler === 'median' ? text('gracePeriod', 'search.scheduler.gracePeriod', 'Grace period (epochs)', { inputMode: 'decimal', placeholder: 'default' }) : null}
            </fieldset>

            <fieldset className="wide" data-testid="search-space">
              <legend>Search space</legend>
              {err('search.space') ? (
                <p className="field-error" role="alert" data-testid="error-search.space">
                  {err('search.space')!.join('; ')}
                </p>
              ) : null}
              <div className="space-row">
                <label className="toggle">
                  <input type="checkbox" checked={form.space.learningRate.enabled && !replaced('learningRate')} disabled={replaced('learningRate')} title={replaced('learningRate') ? 'Replaced by tuned fields below' : undefined} onChange={(e) => setSpace('learningRate', { enabled: e.target.checked })} data-testid="space-learningRate" />
                  Learning rate
                </label>
                <Field label="low" path="search.space.learningRate.low" errors={[...(err('search.space.learningRate.low') ?? []), ...(err('search.space.learningRate') ?? [])]}>
                  {(p) => <input {...p} type="text" inputMode="decimal" disabled={!form.space.learningRate.enabled} value={form.space.learningRate.low} onChange={(e) => setSpace('learningRate', { low: e.target.value })} />}
                </Field>
                <Field label="high" path="search.space.learningRate.high" errors={err('search.space.learningRate.high')}>
                  {(p) => <input {...p} type="text" inputMode="decimal" disabled={!form.space.learningRate.enabled} value={form.space.learningRate.high} onChange={(e) => setSpace('learningRate', { high: e.target.value })} />}
                </Field>
                <label className="toggle">
                  <input type="checkbox" checked={form.space.learningRate.log} disabled={!form.space.learningRate.enabled} onChange={(e) => setSpace('learningRate', { log: e.target.checked })} />
                  log scale
                </label>
              </div>
              <div className="space-row">
                <label className="toggle">
                  <input type="checkbox" checked={form.space.batchSize.enabled && !replaced('batchSize')} disabled={replaced('batchSize')} title={replaced('batchSize') ? 'Replaced by tuned fields below' : undefined} onChange={(e) => setSpace('batchSize', { enabled: e.target.checked })} data-testid="space-batchSize" />
                  Batch size
                </label>
                <Field label="choices" path="search.space.batchSize" errors={err('search.space.batchSize')} hint="Comma-separated integers">
                  {(p) => <input {...p} type="text" disabled={!form.space.batchSize.enabled} value={form.space.batchSize.choices} onChange={(e) => setSpace('batchSize', { choices: e.target.value })} />}
                </Field>
              </div>
              <div className="space-row">
                <label className="toggle">
                  <input type="checkbox" checked={form.space.dropout.enabled && !replaced('dropout')} disabled={replaced('dropout')} title={replaced('dropout') ? 'Replaced by tuned fields below' : undefined} onChange={(e) => setSpace('dropout', { enabled: e.target.checked })} data-testid="space-dropout" />
                  Dropout
                </label>
                <Field label="low" path="search.space.dropout.low" errors={[...(err('search.space.dropout.low') ?? []), ...(err('search.space.dropout') ?? [])]}>
                  {(p) => <input {...p} type="text" inputMode="decimal" disabled={!form.space.dropout.enabled} value={form.space.dropout.low} onChange={(e) => setSpace('dropout', { low: e.target.value })} />}
                </Field>
                <Field label="high" path="search.space.dropout.high" errors={err('search.space.dropout.high')}>
                  {(p) => <input {...p} type="text" inputMode="decimal" disabled={!form.space.dropout.enabled} value={form.space.dropout.high} onChange={(e) => setSpace('dropout', { high: e.target.value })} />}
                </Field>
              </div>
              <div className="space-row">
                <label className="toggle">
                  <input type="checkbox" checked={form.space.activation.enabled && !replaced('activation')} disabled={replaced('activation')} title={replaced('activation') ? 'Replaced by tuned fields below' : undefined} onChange={(e) => setSpace('activation', { enabled: e.target.checked })} data-testid="space-activation" />
                  Activation
                </label>
                <fieldset className="choices" data-field="search.space.activation" disabled={!form.space.activation.enabled} aria-describedby={err('search.space.activation') ? 'err-activation' : undefined}>
                  <legend className="visually-hidden">Activation choices</legend>
                  {SEARCHABLE_ACTIVATIONS.map((a) => (
                    <label key={a}>
                      <input
                        type="checkbox"
                        checked={form.space.activation.choices.includes(a)}
                        onChange={(e) => setSpace('activation', { choices: e.target.checked ? [...form.space.activation.choices, a] : form.space.activation.choices.filter((c) => c !== a) })}
                      />
                      {a}
                    </label>
                  ))}
                </fieldset>
                {err('search.space.activation') ? (
                  <span id="err-activation" className="field-error" data-testid="error-search.space.activation">
                    {err('search.space.activation')!.join('; ')}
                  </span>
                ) : null}
              </div>
              <div className="space-row">
                <label className="toggle">
                  <input type="checkbox" checked={form.space.optimizer.enabled && !replaced('optimizer')} disabled={replaced('optimizer')} title={replaced('optimizer') ? 'Replaced by tuned fields below' : undefined} onChange={(e) => setSpace('optimizer', { enabled: e.target.checked })} data-testid="space-optimizer" />
                  Optimizer
                </label>
                <fieldset className="choices" data-field="search.space.optimizer" disabled={!form.space.optimizer.enabled}>
                  <legend className="visually-hidden">Optimizer choices</legend>
                  {OPTIMIZER_TYPES.map((o) => (
                    <label key={o}>
                      <input
                        type="checkbox"
                        checked={form.space.optimizer.choices.includes(o)}
                        onChange={(e) => setSpace('optimizer', { choices: e.target.checked ? [...form.space.optimizer.choices, o] : form.space.optimizer.choices.filter((c) => c !== o) })}
                      />
                      {o}
                    </label>
                  ))}
                </fieldset>
                {err('search.space.optimizer') ? (
                  <span className="field-error" data-testid="error-search.space.optimizer">
                    {err('search.space.optimizer')!.join('; ')}
                  </span>
                ) : null}
                <label className="toggle">
                  <input
                    type="checkbox"
                    checked={form.space.optimizer.momentum.enabled}
                    disabled={!form.space.optimizer.enabled || !form.space.optimizer.choices.includes('sgd')}
                    onChange={(e) => setSpace('optimizer', { momentum: { ...form.space.optimizer.momentum, enabled: e.target.checked } })}
                  />
                  sgd momentum
                </label>
                <Field label="low" path="search.space.momentum.low" errors={[...(err('search.space.momentum.low') ?? []), ...(err('search.space.momentum') ?? [])]}>
                  {(p) => <input {...p} type="text" inputMode="decimal" disabled={!form.space.optimizer.enabled || !form.space.optimizer.momentum.enabled} value={form.space.optimizer.momentum.low} onChange={(e) => setSpace('optimizer', { momentum: { ...form.space.optimizer.momentum, low: e.target.value } })} />}
                </Field>
                <Field label="high" path="search.space.momentum.high" errors={err('search.space.momentum.high')}>
                  {(p) => <input {...p} type="text" inputMode="decimal" disabled={!form.space.optimizer.enabled || !form.space.optimizer.momentum.enabled} value={form.space.optimizer.momentum.high} onChange={(e) => setSpace('optimizer', { momentum: { ...form.space.optimizer.momentum, high: e.target.value } })} />}
                </Field>
              </div>
              {tunes.length > 0 ? <h3 className="tuned-heading">Tuned fields</h3> : null}
              {tunes.map((t) => {
                const path = `search.space.${t.name}` as const;
                return (
                  <div key={t.target} className="space-row" data-testid="tuned-param" data-target={t.target} data-name={t.name}>
                    <Field label="parameter" path={path} errors={err(path)}>
                      {(p) => <input {...p} type="text" value={t.name} onChange={(e) => setTune(t.target, { name: e.target.value })} />}
                    </Field>
                    <Field label="type" path={`${path}.type`}>
                      {(p) => (
                        <select {...p} value={t.type} onChange={(e) => setTune(t.target, { type: e.target.value as TuneType })}>
                          {TUNE_TYPES.map((x) => (
                            <option key={x}>{x}</option>
                          ))}
                        </select>
                      )}
                    </Field>
                    {t.type === 'categorical' ? (
                      <Field label="choices" path={`${path}.choices`} hint="Comma-separated">
                        {(p) => <input {...p} type="text" value={t.choices} onChange={(e) => setTune(t.target, { choices: e.target.value })} />}
                      </Field>
                    ) : (
                      <>
                        <Field label="low" path={`${path}.low`}>
                          {(p) => <input {...p} type="text" inputMode="decimal" value={t.low} onChange={(e) => setTune(t.target, { low: e.target.value })} />}
                        </Field>
                        <Field label="high" path={`${path}.high`}>
                          {(p) => <input {...p} type="text" inputMode="decimal" value={t.high} onChange={(e) => setTune(t.target, { high: e.target.value })} />}
                        </Field>
                      </>
                    )}
                    <button type="button" className="small" onClick={() => setForm((f) => toggleTune(f, t.target, datasets))} aria-label={`Stop tuning ${t.name}`}>
                      Remove
                    </button>
                  </div>
                );
              })}
            </fieldset>

            <fieldset>
              <legend>Budget</legend>
              {text('maxTrials', 'search.budget.maxTrials', 'Max trials', { inputMode: 'numeric' })}
              {text('maxConcurrentTrials', 'search.budget.maxConcurrentTrials', 'Trials at once', { inputMode: 'numeric' })}
              {text('maxTotalEpochs', 'search.budget.maxTotalEpochs', 'Max epochs in total', { inputMode: 'numeric', placeholder: 'no limit' })}
            </fieldset>
          </div>
        )}

        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy || target.loading} data-testid="submit-sweep">
            {busy ? 'Submitting…' : 'Start sweep'}
          </button>
          {showErrors && clientDetails.length === 0 && !serverErrors ? <span className="ok">Valid</span> : null}
        </div>
      </form>
    </main>
  );
}
