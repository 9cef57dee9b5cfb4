// A trainable's checkpoint directory as one checkpoint row: a manifest of its regular files and
// their bytes concatenated. Restoring refuses any path that would leave the directory.
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, normalize, relative, sep } from 'node:path';

export const DIRECTORY_FORMAT = 'hypersweep-directory-1';

export interface DirectoryManifest {
  readonly format: typeof DIRECTORY_FORMAT;
  /** The report step the directory was saved at. */
  readonly step: number;
  readonly files: readonly { readonly path: string; readonly size: number }[];
}

/** Reads every regular file under `dir` (sorted paths, '/'-separated); symbolic links and special files are refused. */
export async function packDirectory(dir: string, step: number, maxBytes: number): Promise<{ manifest: DirectoryManifest; data: Uint8Array }> {
  const files: { path: string; size: number }[] = [];
  const chunks: Buffer[] = [];
  let total = 0;
  const walk = async (at: string): Promise<void> => {
    const entries = (await readdir(at)).sort();
    for (const name of entries) {
      const full = join(at, name);
      const info = await lstat(full);
      const rel = relative(dir, full).split(sep).join('/');
      if (info.isDirectory()) {
        await walk(full);
      } else if (info.isFile()) {
        total += info.size;
        if (total > maxBytes) throw new Error(`the checkpoint directory holds more than ${maxBytes} bytes (at ${rel})`);
        const bytes = await readFile(full);
        files.push({ path: rel, size: bytes.length });
        chunks.push(bytes);
      } else {
        throw new Error(`the checkpoint directory holds ${rel}, which is not a regular file or directory (links are not stored)`);
      }
    }
  };
  await walk(dir);
  return { manifest: { format: DIRECTORY_FORMAT, step, files }, data: new Uint8Array(Buffer.concat(chunks)) };
}

export function isDirectoryManifest(manifest: unknown): manifest is DirectoryManifest {
  return manifest !== null && typeof manifest === 'object' && (manifest as { format?: unknown }).format === DIRECTORY_FORMAT;
}

/** Writes the files of a packed directory under `dir` (which should be empty). */
export async function unpackDirectory(manifest: DirectoryManifest, data: Uint8Array, dir: string): Promise<void> {
  let offset = 0;
  for (const file of manifest.files) {
    const path = normalize(file.path);
    if (typeof file.path !== 'string' || file.path === '' || path.startsWith('..') || path.startsWith(sep) || path.includes(`${sep}..${sep}`) || !Number.isInteger(file.size) || file.size < 0) {
      throw new Error(`the stored checkpoint names an unsafe file: ${JSON.stringify(file.path)}`);
    }
    if (offset + file.size > data.length) throw new Error('the stored checkpoint is shorter than its manifest says');
    const target = join(dir, path);
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, data.subarray(offset, offset + file.size));
    offset += file.size;
  }
  if (offset !== data.length) throw new Error('the stored checkpoint is longer than its manifest says');
}
