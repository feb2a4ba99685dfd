/**
 * A source that keeps every file it has read, so loading the same model again (the training worker reloads it
 * with other LoRA settings) reads nothing twice. Misses are kept too; failures are not, so a retry reads again.
 */
import { BaseSource, normalizeName, type ModelSource, type ProgressCallback } from './modelSource';

class MemoSource extends BaseSource {
  private readonly files = new Map<string, Promise<Uint8Array | null>>();
  constructor(private readonly inner: ModelSource) {
    super();
  }
  get kind() {
    return this.inner.kind;
  }
  get label() {
    return this.inner.label;
  }

  override tryGetFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const file = normalizeName(name);
    let p = this.files.get(file);
    if (!p) {
      p = this.inner.tryGetFile(file, onProgress);
      this.files.set(file, p);
      p.catch(() => this.files.delete(file));
    }
    return p;
  }

  async getFile(name: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const bytes = await this.tryGetFile(name, onProgress);
    // The inner source throws its own "missing" error, which names where it looked.
    return bytes ?? this.inner.getFile(name, onProgress);
  }
}

export function memoSource(inner: ModelSource): ModelSource {
  return new MemoSource(inner);
}
