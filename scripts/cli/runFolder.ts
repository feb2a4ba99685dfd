/**
 * The folder a `train` run writes (`--out`): its adapter (PEFT), metrics.jsonl, run.json (what the run is: the
 * command's options, the resolved settings, the model, the data, how far it got) and checkpoint.safetensors (the
 * trainer's checkpoint, the tab's TrainerCheckpoint, to resume from). Every file but the append-only
 * metrics.jsonl is replaced atomically (a temporary file renamed over it), so a run stopped at any moment leaves
 * the previous version of each file whole.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, accessSync, constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BatchMetrics } from '../../src/aspo/objective';
import { checkpointFromSafetensors, checkpointToSafetensors } from '../../src/train/checkpointStore';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type PeftFiles } from '../../src/train/peft';
import type { TrainSettings } from '../../src/train/settings';
import type { TrainerCheckpoint } from '../../src/train/checkpoint';
import type { StepReport } from '../../src/train/optimizerStep';
import type { BackendRecord } from './backend';

export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';
export const CHECKPOINT_FILE = 'checkpoint.safetensors';
/** What a run writes; `--overwrite` removes these and nothing else. */
export const RUN_FILES = [ADAPTER_WEIGHTS_FILE, ADAPTER_CONFIG_FILE, METRICS_FILE, RUN_FILE, CHECKPOINT_FILE] as const;

export type RunStatus = 'running' | 'interrupted' | 'failed' | 'complete';

/** run.json: enough to tell two runs apart and to resume one with the same options. */
export interface RunRecord {
  format: 'aspo-train-run';
  version: 1;
  status: RunStatus;
  /** optimizer steps done at the last save (the checkpoint's and the adapter's step) */
  step: number;
  totalSteps: number;
  /** the command's options as first given (paths absolute), without --out, --resume, --overwrite and --save-every */
  options: Record<string, string>;
  settings: TrainSettings;
  /** `weightsSha256`: of model.safetensors, so that a resume on changed weights is refused */
  model: { path: string; id: string; modelType: string; weightsSha256: string };
  data: { pairs: string; fingerprint: string; pairCount: number; skippedLines: number[]; leftOutLines: number[]; eval?: string };
  /** the TF.js backends the run's steps ran on, each from the step count it took over at (absent in runs written before there was a choice) */
  backends?: (BackendRecord & { fromStep: number })[];
  evalBefore?: BatchMetrics;
  startedAt: string;
  updatedAt: string;
  /** why the run stopped, when it did not complete */
  message?: string;
}

/** SHA-256 of a file, streamed (model weights can be gigabytes). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `data` to a temporary file beside `path`, flushes it and renames it over `path`. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'ENOTDIR') return 'a part of the path is a file, not a folder';
  if (e.code === 'EROFS') return 'the file system is read-only';
  return e.message;
}

/**
 * Refuses an `--out` that is a file, or a folder that already holds files (unless `overwrite`), with the fix.
 * Reads only, so it can run before any other check.
 */
export function checkOutFolder(out: string, overwrite: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new Error(`--out ${out} is a file; give a folder for the run (it is created if missing)`);
  const entries = readdirSync(out);
  if (entries.length > 0 && !overwrite) {
    const shown = entries.slice(0, 4).join(', ') + (entries.length > 4 ? `, … (${entries.length} entries)` : '');
    const resumable = existsSync(join(out, CHECKPOINT_FILE)) && runStatus(out) !== 'complete';
    throw new Error(
      `--out ${out} already holds files (${shown}); a new run would replace them. Give another folder` +
        `${resumable ? `, continue that run with --resume ${out}` : ''}, or add --overwrite to replace it`,
    );
  }
}

/** The status in a folder's run.json; undefined when it has none that can be read. */
function runStatus(dir: string): RunStatus | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, RUN_FILE), 'utf8')) as RunRecord).status;
  } catch {
    return undefined;
  }
}

/** Creates `--out` (when missing) and checks that it can be written. */
export function createOutFolder(out: string): void {
  try {
    mkdirSync(out, { recursive: true });
    accessSync(out, constants.W_OK);
  } catch (err) {
    throw new Error(`--out ${out}: the folder cannot be created or written (${describeError(err)}); give a folder you can write to`);
  }
}

/** Removes the files of an earlier run (only those a run writes), for `--overwrite`. */
export function clearRunFiles(out: string): void {
  for (const name of RUN_FILES) rmSync(join(out, name), { force: true });
}

export function readRunRecord(dir: string): RunRecord {
  const path = join(dir, RUN_FILE);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--resume ${dir}: no such folder; give the --out folder of the run to continue`);
  if (!existsSync(path)) throw new Error(`--resume ${dir}: the folder has no ${RUN_FILE}, so it is not a run folder written by \`train\``);
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message})`);
  }
  if (record?.format !== 'aspo-train-run' || record.version !== 1) throw new Error(`${path} is not a run record (format aspo-train-run, version 1)`);
  return record;
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify({ ...record, updatedAt: new Date().toISOString() }, null, 2)}\n`);
}

export function readCheckpoint(dir: string): TrainerCheckpoint {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) {
    throw new Error(`--resume ${dir}: the run saved no checkpoint yet (it stopped before its first step); start it again with --out ${dir} --overwrite`);
  }
  return checkpointFromSafetensors(readFileSync(path), path);
}

/** The checkpoint first, then the adapter of the same step: either file on disk is always whole. */
export function saveCheckpointFiles(dir: string, checkpoint: TrainerCheckpoint, adapter: PeftFiles): void {
  writeFileAtomic(join(dir, CHECKPOINT_FILE), checkpointToSafetensors(checkpoint));
  writeFileAtomic(join(dir, ADAPTER_WEIGHTS_FILE), adapter[ADAPTER_WEIGHTS_FILE]);
  writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), adapter[ADAPTER_CONFIG_FILE]);
}

/** One line of metrics.jsonl: the step, its learning rate and the metrics under TRL's names. */
export function metricsLine(report: StepReport): Record<string, unknown> {
  const line: Record<string, unknown> = { step: report.step, lr: report.lr };
  for (const [k, v] of Object.entries(report.metrics as BatchMetrics)) line[k] = v;
  line.grad_norm = report.gradNorm;
  line.ms = Math.round(report.ms);
  if (report.skipped) line.skipped = report.skipped;
  if (report.notices.length > 0) line.notices = report.notices;
  return line;
}

/** metrics.jsonl as of the checkpoint: the steps it holds, so steps after the last save are not listed twice. */
export function writeMetrics(dir: string, history: readonly StepReport[]): void {
  writeFileAtomic(join(dir, METRICS_FILE), history.map((r) => `${JSON.stringify(metricsLine(r))}\n`).join(''));
}

/** Appended, not rewritten, one write per step: the log of a long run costs no more per step as it grows. */
export function appendMetrics(dir: string, report: StepReport): void {
  appendFileSync(join(dir, METRICS_FILE), `${JSON.stringify(metricsLine(report))}\n`);
}
