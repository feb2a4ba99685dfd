/**
 * The trainer's checkpoint: everything to resume a run exactly (adapters, Adam moments, data order, step,
 * history), keyed by PEFT names, and the checks that refuse one made with other settings, data or adapters.
 * How it is stored (IndexedDB, one safetensors file) is `checkpointStore.ts`.
 */
import * as tf from '@tensorflow/tfjs';
import type { PreferencePair } from '../data/pairs';
import type { LoraAdapters } from '../models/tfjs/lora';
import type { Adam } from './adam';
import type { DataPosition } from './dataOrder';
import type { StepReport } from './optimizerStep';
import type { TrainSettings } from './settings';

/** Everything to resume a run exactly; structured-cloneable (IndexedDB, postMessage). */
export interface TrainerCheckpoint {
  format: 'aspo-trainer-checkpoint';
  version: 1;
  /** optimizer steps taken (skipped ones included) */
  step: number;
  totalSteps: number;
  settings: TrainSettings;
  /** FNV-1a of the training pairs, to refuse resuming on other data */
  dataFingerprint: string;
  /** LoRA weights by PEFT name (`base_model.model.<module>.lora_A.weight`, …) */
  adapters: Record<string, { shape: number[]; data: Float32Array }>;
  /** Adam state: updates applied and both moments, by PEFT name */
  optimizer: { t: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> };
  dataOrder: DataPosition;
  history: StepReport[];
}

function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function pairsFingerprint(pairs: readonly PreferencePair[]): string {
  let h = 0x811c9dc5;
  for (const p of pairs) h = fnv1a(JSON.stringify([p.prompt, p.chosen, p.rejected, p.image ?? null, p.similarity?.chosen ?? null]), h);
  return `${pairs.length}:${h.toString(16)}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A run's trainable state: its LoRA variables (in `lora.variables()` order) and their optimizer. */
export interface TrainableState {
  lora: LoraAdapters;
  variables: tf.Variable[];
  adam: Adam;
}

/** PEFT name of each trainable variable, in `variables()` order (A then B of each adapter). */
function variableNames(lora: LoraAdapters): string[] {
  return lora.names().flatMap((n) => [`base_model.model.${n}.lora_A.weight`, `base_model.model.${n}.lora_B.weight`]);
}

export async function captureCheckpoint(
  state: TrainableState,
  run: Pick<TrainerCheckpoint, 'step' | 'totalSteps' | 'settings' | 'dataOrder' | 'history'> & { pairs: readonly PreferencePair[] },
): Promise<TrainerCheckpoint> {
  const names = variableNames(state.lora);
  const adapters: TrainerCheckpoint['adapters'] = {};
  for (let i = 0; i < state.variables.length; i++) {
    adapters[names[i]] = { shape: state.variables[i].shape.slice(), data: Float32Array.from((await state.variables[i].data()) as Float32Array) };
  }
  const adam = await state.adam.exportState();
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  names.forEach((n, i) => {
    m[n] = adam.m[i];
    v[n] = adam.v[i];
  });
  return {
    format: 'aspo-trainer-checkpoint',
    version: 1,
    step: run.step,
    totalSteps: run.totalSteps,
    settings: structuredClone(run.settings),
    dataFingerprint: pairsFingerprint(run.pairs),
    adapters,
    optimizer: { t: adam.t, m, v },
    dataOrder: run.dataOrder,
    history: structuredClone(run.history),
  };
}

/**
 * Loads the checkpoint's adapters and Adam moments after checking that it was made with these settings, on these
 * pairs, for these adapters; the caller takes its step, data order and history.
 */
export function restoreCheckpoint(ckpt: TrainerCheckpoint, state: TrainableState, run: { settings: TrainSettings; pairs: readonly PreferencePair[] }): void {
  if (ckpt?.format !== 'aspo-trainer-checkpoint' || ckpt.version !== 1) throw new Error('not a trainer checkpoint (format aspo-trainer-checkpoint, version 1)');
  if (stableJson(ckpt.settings) !== stableJson(run.settings)) {
    const differing = Object.keys({ ...run.settings, ...ckpt.settings }).filter(
      (k) => stableJson((ckpt.settings as unknown as Record<string, unknown>)[k]) !== stableJson((run.settings as unknown as Record<string, unknown>)[k]),
    );
    throw new Error(`the checkpoint was made with other settings (${differing.join(', ')}); create the trainer with the checkpoint's settings`);
  }
  const fingerprint = pairsFingerprint(run.pairs);
  if (ckpt.dataFingerprint !== fingerprint) throw new Error(`the checkpoint was made on other training pairs (${ckpt.dataFingerprint}, these are ${fingerprint})`);
  const names = variableNames(state.lora);
  names.forEach((n, i) => {
    const a = ckpt.adapters[n];
    const shape = state.variables[i].shape;
    if (!a) throw new Error(`the checkpoint has no adapter tensor "${n}"`);
    if (a.shape.length !== shape.length || a.shape.some((d, k) => d !== shape[k])) {
      throw new Error(`checkpoint tensor "${n}" has shape [${a.shape.join(', ')}], the model's is [${shape.join(', ')}]`);
    }
    if (!ckpt.optimizer.m[n] || !ckpt.optimizer.v[n]) throw new Error(`the checkpoint has no optimizer moments for "${n}"`);
  });
  const extra = Object.keys(ckpt.adapters).filter((n) => !names.includes(n));
  if (extra.length > 0) throw new Error(`the checkpoint has adapter tensors this model lacks, e.g. "${extra[0]}"`);
  tf.tidy(() => names.forEach((n, i) => state.variables[i].assign(tf.tensor(ckpt.adapters[n].data, ckpt.adapters[n].shape))));
  state.adam.importState({ t: ckpt.optimizer.t, m: names.map((n) => ckpt.optimizer.m[n]), v: names.map((n) => ckpt.optimizer.v[n]) });
}
