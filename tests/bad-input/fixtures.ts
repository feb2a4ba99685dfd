/** Builders for the bad-input corpus: what a user might have on disk before running the command or opening the tab. */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { FIXTURE_MODELS } from '../../scripts/lib/nodeModelSource';
import { squareImage } from '../setup/images';

export type FixtureModel = 'tiny-smolvlm' | 'tiny-smollm2' | 'tiny-clip';

/** A copy of a fixture model at `dir/name`, changed by `edit` (given the copy's folder); returns the copy's path. */
export function copyModel(dir: string, fixture: FixtureModel, name: string, edit?: (model: string) => void): string {
  const model = join(dir, name);
  cpSync(join(FIXTURE_MODELS, fixture), model, { recursive: true });
  edit?.(model);
  return model;
}

/** Keeps the first `bytes` bytes of a file, as an interrupted download does. */
export function cut(file: string, bytes: number): void {
  writeFileSync(file, readFileSync(file).subarray(0, bytes));
}

export function write(file: string, content: string | Uint8Array): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

export async function writePng(file: string): Promise<string> {
  mkdirSync(dirname(file), { recursive: true });
  await squareImage().save(file);
  return file;
}

/** A run folder from an earlier training, which no failed command may touch. */
export function earlierRun(dir: string): string {
  const run = join(dir, 'run');
  write(join(run, 'adapter_model.safetensors'), Uint8Array.from({ length: 64 }, (_, i) => i));
  write(join(run, 'adapter_config.json'), '{"peft_type": "LORA", "r": 2}\n');
  write(join(run, 'metrics.jsonl'), '{"step": 1, "loss": 0.69}\n{"step": 2, "loss": 0.5}\n');
  return run;
}

/** Every file under `dir` (relative path → SHA-256), to show what a command changed. */
export function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

/**
 * What changed between two snapshots, leaving out new files under the `allowed` prefixes: a list of
 * "changed X", "removed X", "created X" that a test expects to be empty.
 */
export function changes(before: Map<string, string>, after: Map<string, string>, allowed: string[] = []): string[] {
  const out: string[] = [];
  for (const [path, hash] of before) {
    if (!after.has(path)) out.push(`removed ${path}`);
    else if (after.get(path) !== hash) out.push(`changed ${path}`);
  }
  for (const path of after.keys()) {
    if (!before.has(path) && !allowed.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) out.push(`created ${path}`);
  }
  return out;
}

/** A safetensors file written by hand: the 8-byte header length (true length unless given), header JSON, data. */
export function rawSafetensors(headerJson: string, data: ArrayLike<number> = [], headerLength?: bigint): Uint8Array {
  const header = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(Array.from(data), 8 + header.length);
  return out;
}
