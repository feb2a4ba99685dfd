/**
 * The harness page's own plumbing: its status line, one busy call at a time, `tf.memory()` as plain data, and the
 * conversions between the page boundary's plain data and the engines' types.
 */
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import type { ResponseLogprobs } from '../models/engine';
import { sumTensors } from '../tf/sum';
import type { ImagePixels, MemoryInfo } from './protocol';

/** Shown in `#status`, which the e2e tests read (`data-state`, `data-backend`). */
export function status(text: string, state: 'loading' | 'ready' | 'busy' | 'error'): void {
  // Looked up here, not at import: Node imports the page's modules for the helpers it shares with them.
  const statusLine = document.getElementById('status')!;
  statusLine.textContent = text;
  statusLine.dataset.state = state;
  statusLine.dataset.backend = tf.getBackend() ?? '';
}

export function memory(): MemoryInfo {
  const m = tf.memory();
  return { numBytes: m.numBytes, numTensors: m.numTensors };
}

export function rawImage(p: ImagePixels): RawImage {
  if (p.data.length !== p.width * p.height * p.channels) {
    throw new Error(`imagePixels has ${p.data.length} values, expected ${p.width}×${p.height}×${p.channels}`);
  }
  return new RawImage(Uint8ClampedArray.from(p.data), p.width, p.height, p.channels);
}

/** Plain data only (no tensors, no class instances) so that page.evaluate returns it intact. */
export function plain(results: ResponseLogprobs[]): ResponseLogprobs[] {
  return results.map(({ inputIds, responseStart, tokens, total, eosIndex, fullLength, cut }) => ({
    inputIds,
    responseStart,
    tokens: tokens.map((t) => ({ ...t })),
    total,
    eosIndex,
    fullLength,
    cut,
  }));
}

/** Waits until every LoRA weight is on the backend, so that a load's clock stops after the upload. */
export async function weightsOnBackend(variables: tf.Variable[]): Promise<void> {
  const probe = tf.tidy(() => sumTensors(variables.map((v) => v.sum())));
  await probe.data();
  probe.dispose();
}

let queue: Promise<unknown> = Promise.resolve();

/** One busy call at a time, with the status line saying which. */
export function serial<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const run = queue.then(async () => {
    status(`${what}…`, 'busy');
    try {
      const out = await fn();
      status(`ready (${tf.getBackend()})`, 'ready');
      return out;
    } catch (err) {
      status(`${what} failed: ${(err as Error).message}`, 'ready');
      throw err;
    }
  });
  queue = run.catch(() => undefined);
  return run;
}
