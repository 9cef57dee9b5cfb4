// Datasets: the built-ins and uploads, and forms that upload a CSV table or an image dataset in IDX
// format (the files as downloaded, gzip or not) into the project chosen above them. The API checks
// the files whole and stores all or nothing; its 400s name the file (the CSV's line and column, the
// IDX file's byte offset), shown next to that file's input, and a refused project at the select.
import { useEffect, useState, type FormEvent } from 'react';
import { useApp } from '../app/context.tsx';
import { useAsync } from '../app/hooks.ts';
import type { DatasetInfo } from '@hypersweep/schemas';
import { ApiError } from '@hypersweep/client';
import { ErrorBanner, Field, Loading } from '../components/ui.tsx';
import { ProjectSelect, useTargetProject } from '../components/ProjectSelect.tsx';
import { PROJECT_PATH, splitProjectErrors } from '../lib/projects.ts';

const FILES = [
  { path: 'trainImages', label: 'Training images', hint: 'ubyte [N, H, W] or [N, H, W, C] with C = 1 or 3, e.g. train-images-idx3-ubyte.gz' },
  { path: 'trainLabels', label: 'Training labels', hint: 'ubyte [N], e.g. train-labels-idx1-ubyte.gz' },
  { path: 'testImages', label: 'Test images (optional)', hint: 'shaped like the training images; without test files, 10% of the training file is held out' },
  { path: 'testLabels', label: 'Test labels (optional)', hint: 'with the test images' },
] as const;

type FileField = (typeof FILES)[number]['path'];

/** The API's details of a failed upload, without those naming the project (shown at the select). */
function uploadDetails(error: unknown) {
  return error instanceof ApiError ? splitProjectErrors(error.details) : { project: [], rest: [] };
}

export function DatasetsPage() {
  const { api } = useApp();
  const datasets = useAsync((signal) => api.listDatasets({ signal }), [api]);
  const target = useTargetProject();
  // The project's problem of the last upload: the form's own check or the API's refusal.
  const [projectErrors, setProjectErrors] = useState<string[]>([]);
  useEffect(() => setProjectErrors([]), [target.selected]);

  /** Before an upload: false (and the message at the select) when a project must be chosen first. */
  function projectChosen(): boolean {
    if (target.problem) {
      setProjectErrors([target.problem.message]);
      requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-testid="field-${PROJECT_PATH}"]`)?.focus());
      return false;
    }
    setProjectErrors([]);
    return true;
  }
  function uploaded(info: DatasetInfo) {
    target.remember();
    datasets.reload();
    return info;
  }
  function refused(err: unknown) {
    setProjectErrors(uploadDetails(err).project);
  }

  // CSV: the file as text, parsed by the API with the label column and task given.
  const [csvName, setCsvName] = useState('');
  const [csvFile, setCsvFile] = useState<File | undefined>(undefined);
  const [labelColumn, setLabelColumn] = useState('-1');
  const [task, setTask] = useState<'classification' | 'regression'>('classification');
  const [csvSending, setCsvSending] = useState(false);
  const [csvError, setCsvError] = useState<unknown>(null);
  const [csvStored, setCsvStored] = useState<DatasetInfo | null>(null);
  const csvDetails = uploadDetails(csvError).rest;
  const csvErrorsOf = (path: string) => csvDetails.filter((d) => d.path === path || (path === 'body' && d.path.startsWith('body'))).map((d) => d.message);

  async function submitCsv(event: FormEvent) {
    event.preventDefault();
    setCsvError(null);
    setCsvStored(null);
    if (!projectChosen()) return;
    setCsvSending(true);
    try {
      // A missing file is sent empty: the API's 400 names it at the file's input.
      const text = csvFile ? await csvFile.text() : '';
      setCsvStored(uploaded(await api.uploadCsvDataset(text, { name: csvName.trim(), labelColumn: labelColumn.trim(), task, ...(target.project !== undefined ? { project: target.project } : {}) })));
    } catch (err) {
      setCsvError(err);
      refused(err);
    } finally {
      setCsvSending(false);
    }
  }
  const [name, setName] = useState('');
  const [numClasses, setNumClasses] = useState('');
  const [files, setFiles] = useState<Partial<Record<FileField, File>>>({});
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [stored, setStored] = useState<DatasetInfo | null>(null);

  // The API's details by field, so each message sits by its input.
  const details = uploadDetails(error).rest;
  const errorsOf = (path: string) => details.filter((d) => d.path === path).map((d) => d.message);

  async function submit(event: FormEvent) {
    event.preventDefault();
    // Only the fields set: a form's own FormData sends empty parts for unset file inputs and blank fields.
    const { trainImages, trainLabels, testImages, testLabels } = files;
    setError(null);
    setStored(null);
    if (!projectChosen()) return;
    setSending(true);
    try {
      // Missing files are the API's to name: its 400 puts each message by its input.
      setStored(
        uploaded(
          await api.uploadIdxDataset({
            name: name.trim(),
            trainImages,
            trainLabels,
            testImages,
            testLabels,
            numClasses: numClasses.trim() === '' ? undefined : Number(numClasses.trim()),
            project: target.project,
          }),
        ),
      );
    } catch (err) {
      setError(err);
      refused(err);
    } finally {
      setSending(false);
    }
  }

  return (
    <main id="main" className="page">
      <div className="page-head">
        <h1>Datasets</h1>
      </div>
      <ErrorBanner error={datasets.error} onRetry={datasets.reload} />
      {!datasets.data ? <Loading what="datasets" /> : null}
      {datasets.data ? (
        <div className="table-scroll">
          <table data-testid="datasets-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Shape</th>
                <th scope="col">Classes</th>
                <th scope="col">Train</th>
                <th scope="col">Test</th>
                <th scope="col">Id (for a sweep&apos;s dataset)</th>
              </tr>
            </thead>
            <tbody>
              {datasets.data.items.map((d) => (
                <tr key={d.id} data-testid="dataset-row" data-dataset-id={d.id}>
                  <td title={d.description ?? undefined}>{d.name}</td>
                  <td>{d.kind}</td>
                  <td>[{d.featureShape.join(', ')}]</td>
                  <td className="num">{d.numClasses ?? '—'}</td>
                  <td className="num">{d.sizes.train.toLocaleString()}</td>
                  <td className="num">{d.sizes.test.toLocaleString()}</td>
                  <td>
                    <code>{d.id}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      <section aria-labelledby="upload-project-title" className="project-target">
        <h2 id="upload-project-title">Upload into</h2>
        <ProjectSelect target={target} errors={projectErrors} hint="The project of the CSV and IDX uploads below: its sweeps may use them." />
      </section>

      <section aria-labelledby="csv-upload-title">
        <h2 id="csv-upload-title">Upload a CSV table</h2>
        <p>
          One row per example, numeric features; the label column holds class names (classification) or numbers (regression). Use the stored dataset in a sweep as{' '}
          <code>{'{ type: csv, id: <id> }'}</code>.
        </p>
        <form onSubmit={(e) => void submitCsv(e)} data-testid="csv-upload-form">
          <Field label="Name" path="name" errors={csvErrorsOf('name')}>
            {(props) => <input {...props} type="text" required maxLength={100} value={csvName} onChange={(e) => setCsvName(e.target.value)} />}
          </Field>
          <Field label="CSV file" path="body" hint="comma-separated, a header row or not (told apart by the API)" errors={csvErrorsOf('body')}>
            {(props) => <input {...props} type="file" accept=".csv,text/csv,text/plain" required onChange={(e) => setCsvFile(e.target.files?.[0])} />}
          </Field>
          <Field label="Label column" path="labelColumn" hint="a header name, or a 0-based index (-1: the last column)" errors={csvErrorsOf('labelColumn')}>
            {(props) => <input {...props} type="text" required value={labelColumn} onChange={(e) => setLabelColumn(e.target.value)} />}
          </Field>
          <Field label="Task" path="task" errors={csvErrorsOf('task')}>
            {(props) => (
              <select {...props} value={task} onChange={(e) => setTask(e.target.value as 'classification' | 'regression')}>
                <option value="classification">classification</option>
                <option value="regression">regression</option>
              </select>
            )}
          </Field>
          <button type="submit" disabled={csvSending || target.loading} data-testid="csv-upload-submit">
            {csvSending ? 'Uploading…' : 'Upload'}
          </button>
        </form>
        <ErrorBanner error={csvError} />
        {csvStored ? (
          <p role="status" data-testid="csv-upload-stored">
            Stored <strong>{csvStored.name}</strong>: {csvStored.task}, [{csvStored.featureShape.join(', ')}] features, {csvStored.sizes.train.toLocaleString()} train /{' '}
            {csvStored.sizes.test.toLocaleString()} test. Id <code>{csvStored.id}</code>
          </p>
        ) : null}
      </section>

      <section aria-labelledby="idx-upload-title">
        <h2 id="idx-upload-title">Upload IDX images</h2>
        <p>
          Image datasets in MNIST&apos;s IDX format (Fashion-MNIST, KMNIST, EMNIST…), each file gzip or not. Labels are class ids 0–255; classes are the largest label + 1
          unless given. Use the stored dataset in a sweep as <code>{'{ type: idx, id: <id> }'}</code>.
        </p>
        <form onSubmit={(e) => void submit(e)} data-testid="idx-upload-form">
          <Field label="Name" path="name" errors={errorsOf('name')}>
            {(props) => <input {...props} type="text" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          {FILES.map((f) => (
            <Field key={f.path} label={f.label} path={f.path} hint={f.hint} errors={errorsOf(f.path)}>
              {(props) => (
                <input
                  {...props}
                  type="file"
                  required={f.path === 'trainImages' || f.path === 'trainLabels'}
                  onChange={(e) => setFiles((prev) => ({ ...prev, [f.path]: e.target.files?.[0] }))}
                />
              )}
            </Field>
          ))}
          <Field label="Classes (optional)" path="numClasses" hint="2–256; every label must be below it" errors={errorsOf('numClasses')}>
            {(props) => <input {...props} type="number" min={2} max={256} step={1} value={numClasses} onChange={(e) => setNumClasses(e.target.value)} />}
          </Field>
          <button type="submit" disabled={sending || target.loading} data-testid="idx-upload-submit">
            {sending ? 'Uploading…' : 'Upload'}
          </button>
        </form>
        <ErrorBanner error={error} />
        {stored ? (
          <p role="status" data-testid="idx-upload-stored">
            Stored <strong>{stored.name}</strong>: [{stored.featureShape.join(', ')}], {stored.numClasses} classes, {stored.sizes.train.toLocaleString()} train /{' '}
            {stored.sizes.test.toLocaleString()} test. Id <code>{stored.id}</code>
          </p>
        ) : null}
      </section>
    </main>
  );
}
