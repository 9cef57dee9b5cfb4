// Datasets: the built-ins and uploads, and a form that uploads an image dataset in IDX format (the
// files as downloaded, gzip or not). The API checks the files whole and stores all or nothing; its
// 400s name the file and the byte offset, shown next to that file's input.
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context.tsx';
import { useAsync } from '../app/hooks.ts';
import type { DatasetInfo } from '@hypersweep/schemas';
import { ApiError } from '@hypersweep/client';
import { ErrorBanner, Field, Loading } from '../components/ui.tsx';

const FILES = [
  { path: 'trainImages', label: 'Training images', hint: 'ubyte [N, H, W] or [N, H, W, C] with C = 1 or 3, e.g. train-images-idx3-ubyte.gz' },
  { path: 'trainLabels', label: 'Training labels', hint: 'ubyte [N], e.g. train-labels-idx1-ubyte.gz' },
  { path: 'testImages', label: 'Test images (optional)', hint: 'shaped like the training images; without test files, 10% of the training file is held out' },
  { path: 'testLabels', label: 'Test labels (optional)', hint: 'with the test images' },
] as const;

type FileField = (typeof FILES)[number]['path'];

export function DatasetsPage() {
  const { api } = useApp();
  const datasets = useAsync((signal) => api.listDatasets({ signal }), [api]);
  const [name, setName] = useState('');
  const [numClasses, setNumClasses] = useState('');
  const [files, setFiles] = useState<Partial<Record<FileField, File>>>({});
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [stored, setStored] = useState<DatasetInfo | null>(null);

  // The API's details by field, so each message sits by its input.
  const details = error instanceof ApiError ? error.details : [];
  const errorsOf = (path: string) => details.filter((d) => d.path === path).map((d) => d.message);

  async function submit(event: FormEvent) {
    event.preventDefault();
    // Only the fields set: a form's own FormData sends empty parts for unset file inputs and blank fields.
    const { trainImages, trainLabels, testImages, testLabels } = files;
    setSending(true);
    setError(null);
    setStored(null);
    try {
      // Missing files are the API's to name: its 400 puts each message by its input.
      setStored(
        await api.uploadIdxDataset({ name: name.trim(), trainImages, trainLabels, testImages, testLabels, numClasses: numClasses.trim() === '' ? undefined : Number(numClasses.trim()) }),
      );
      datasets.reload();
    } catch (err) {
      setError(err);
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
          <button type="submit" disabled={sending} data-testid="idx-upload-submit">
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
