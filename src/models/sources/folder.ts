/**
 * A model folder the user picked (`<input type="file" webkitdirectory>` gives `File`s with `webkitRelativePath`
 * such as `my-model/onnx/model.onnx`). Fully offline: nothing is fetched or cached.
 */
import { BaseSource, ModelFileError, normalizeName, readBody, type ModelSource, type ProgressCallback } from './modelSource';

function relPath(f: File): string {
  const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
  return (rel && rel.length > 0 ? rel : f.name).replace(/\\/g, '/').replace(/^\/+/, '');
}

class FolderSource extends BaseSource {
  readonly kind = 'folder' as const;
  readonly label: string;
  private readonly files = new Map<string, File>();

  constructor(files: Iterable<File>, label?: string) {
    super();
    const all = [...files].map((f) => ({ f, p: relPath(f) }));
    // The model root is the folder that holds config.json (the shallowest one);
    // without one, the common top folder of the selection.
    const configs = all
      .filter(({ p }) => p === 'config.json' || p.endsWith('/config.json'))
      .map(({ p }) => p.slice(0, p.length - 'config.json'.length))
      .sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
    let root = configs.length > 0 ? configs[0] : '';
    if (configs.length === 0) {
      const tops = new Set(all.map(({ p }) => (p.includes('/') ? p.slice(0, p.indexOf('/') + 1) : '')));
      if (tops.size === 1) root = [...tops][0];
    }
    for (const { f, p } of all) {
      if (p.startsWith(root)) this.files.set(p.slice(root.length), f);
    }
    const rootName = root.replace(/\/$/, '').split('/').pop();
    this.label = `folder ${label ?? (rootName || 'selection')}`;
  }

  /** Paths available, relative to the model root. */
  list(): string[] {
    return [...this.files.keys()].sort();
  }

  async getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const file = normalizeName(name);
    const f = this.files.get(file);
    if (!f) {
      const have = this.list();
      const shown = have.slice(0, 12).join(', ') + (have.length > 12 ? ', …' : '');
      throw new ModelFileError(`${this.label} has no file ${file} (it holds: ${shown || 'nothing'})`, {
        reason: 'missing',
        file,
        source: this.label,
      });
    }
    try {
      if (typeof f.stream === 'function') {
        return await readBody(
          new Response(f.stream(), { headers: { 'content-length': String(f.size) } }),
          file,
          true,
          onProgress,
        );
      }
      const bytes = new Uint8Array(await f.arrayBuffer());
      onProgress?.({ file, loaded: bytes.length, total: bytes.length, fromCache: true });
      return bytes;
    } catch (e) {
      throw new ModelFileError(`${this.label}: could not read ${file} (${(e as Error).message})`, {
        reason: 'network',
        file,
        source: this.label,
        cause: e,
      });
    }
  }
}

/** The files of a picked folder, rooted at the folder that holds config.json. */
export function folderSource(files: Iterable<File>, opts: { label?: string } = {}): ModelSource & { list(): string[] } {
  return new FolderSource(files, opts.label);
}
