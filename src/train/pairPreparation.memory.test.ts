/**
 * A training pair too long for the backend's memory is cut before its step, with a notice, like a pair longer than
 * maxSeqLen: on wasm a LoRA step that outgrows the 4 GiB heap aborts the process. The engine carries
 * SmolVLM-256M-Instruct's config (the figures the cut is computed from) over the tiny SmolVLM's tokenizer and
 * weights: encodePair never runs the model on a text pair.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';
import { switchBackend, useTestBackend } from '../../tests/setup/testBackend';
import { parseModelConfig } from '../models/config';
import { SMOLVLM_256M_INSTRUCT } from '../models/knownConfigs';
import { loadTfjsEngine, TfjsEngine } from '../models/tfjs/engine';
import { WASM32_HEAP_BYTES, workingSet } from '../models/tfjs/memoryFit';
import { encodePair } from './pairPreparation';
import { resolveSettings } from './settings';

const m256Config = parseModelConfig(SMOLVLM_256M_INSTRUCT);
let tiny: TfjsEngine;
let m256: TfjsEngine;

beforeAll(async () => {
  tiny = await loadTfjsEngine(fixtureSource('tiny-smolvlm'));
  m256 = new TfjsEngine(m256Config, tiny.model, tiny.tokenizer, tiny.processor, tiny.format, 'SmolVLM-256M-shaped');
});

afterAll(async () => {
  tiny.dispose();
  await useTestBackend();
});

const longPair = {
  prompt: 'Describe the picture.',
  chosen: Array.from({ length: 120 }, (_, i) => `The ${['red', 'blue', 'green'][i % 3]} square is left of circle ${i}.`).join(' '),
  rejected: 'A cat.',
};

async function encodeLong(maxSeqLen: number) {
  const settings = resolveSettings({ objective: 'dpo', maxSeqLen });
  const out = await encodePair({ engine: m256, settings, loadImage: async () => Promise.reject(new Error('no image')) }, longPair, 'training pair 1');
  if ('leftOut' in out) throw new Error(out.leftOut);
  return out;
}

/** The step's estimate with every token a response token, as the cut counts it. */
const stepBytes = (tokens: number) => workingSet(m256Config, 'wasm', 'training', { sequences: 2, tokens, responseTokens: tokens, image: false }).totalBytes;

describe('the training pair limit', () => {
  it('on wasm: the longest pair whose step the estimate puts inside the heap, and the long response cut to it with a notice', async () => {
    await switchBackend('wasm');
    const limit = m256.trainingPairLimit();
    expect(stepBytes(limit.tokens)).toBeLessThanOrEqual(WASM32_HEAP_BYTES);
    expect(stepBytes(limit.tokens + 1)).toBeGreaterThan(WASM32_HEAP_BYTES);
    // Well inside the window and what one buffer holds: the heap is what binds.
    expect(limit.tokens).toBeLessThan(m256.sequenceLimit(2).tokens);
    expect(limit.name).toBe("the longest sequence of a pair whose LoRA training step fits the wasm backend's memory (WebAssembly memory is 32-bit: 4.0 GiB)");

    const { chosen, rejected, notices } = await encodeLong(1024);
    expect(chosen.tokens.fullLength).toBeGreaterThan(1024);
    expect(chosen.inputIds.length).toBe(limit.tokens);
    expect(rejected.cut).toBeNull();
    expect(notices).toEqual([
      `training pair 1: chosen response truncated from ${chosen.tokens.fullLength} to ${chosen.tokens.ids.length} tokens (${limit.name} is ${limit.tokens} tokens and the prompt takes ${chosen.responseStart})`,
    ]);
  });

  it('on wasm, a maxSeqLen below the memory limit still decides', async () => {
    await switchBackend('wasm');
    const { chosen, notices } = await encodeLong(40);
    expect(chosen.inputIds.length).toBe(40);
    expect(notices[0]).toMatch(/\(maxSeqLen is 40 tokens/);
  });

  it('on cpu (no limit that can be read): only the window and one buffer, so maxSeqLen decides', async () => {
    await switchBackend('cpu');
    expect(m256.trainingPairLimit()).toEqual(m256.sequenceLimit(2));
    const { chosen, notices } = await encodeLong(1024);
    expect(chosen.inputIds.length).toBe(1024);
    expect(notices[0]).toMatch(/\(maxSeqLen is 1024 tokens/);
  });
});
