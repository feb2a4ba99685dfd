/**
 * A response far longer than the model reads (the tiny SmolLM2 reads 512 positions): prepare cuts it to the window
 * before any per-token work, says so, and asks CLIP only about the sentences it kept.
 */
import { beforeAll, expect, it } from 'vitest';
import { fixtureSource } from '../../scripts/lib/nodeModelSource';
import { splitSentences } from '../aspo/sentences';
import type { PreferencePair } from '../data/pairs';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { resolveSettings, type TrainSettingsInput } from './settings';
import { loraOptions, Trainer } from './trainer';
import { useTestBackend } from '../../tests/setup/testBackend';

let engine: TfjsEngine;
const BASE: TrainSettingsInput = { lr: 1e-2, lora: { r: 4, alpha: 8 }, seed: 3, steps: 1, batchSize: 1, maxSeqLen: 100_000 };

beforeAll(async () => {
  await useTestBackend();
  engine = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: loraOptions(resolveSettings(BASE)) });
});

it('a 10,000-sentence response is cut to the model window with a notice, and only kept sentences are scored by CLIP', async () => {
  const chosen = Array.from({ length: 10_000 }, (_, i) => `The bus ${i} is red.`).join(' ');
  const pair: PreferencePair = { prompt: 'What is in the picture?', chosen, rejected: 'A cat sleeps. It is grey.' };
  const asked: number[] = [];
  const similarity = async (_p: PreferencePair, sentences: string[]) => {
    asked.push(sentences.length);
    return sentences.map((_, i) => (i % 7) / 7);
  };
  const trainer = new Trainer({ engine, pairs: [pair], similarity, settings: BASE });
  await trainer.prepare();
  const promptLength = (await engine.encodePrompt(pair.prompt)).promptIds.length;
  const kept = 512 - promptLength;
  const fullLength = engine.encodeResponse(await engine.encodePrompt(pair.prompt), pair.prompt, chosen, { tokens: Infinity, name: 'none' }).tokens.fullLength;
  expect(fullLength).toBeGreaterThan(50_000);
  const text = trainer.notices.join('\n');
  expect(text).toContain(
    `training pair 1: chosen response truncated from ${fullLength} to ${kept} tokens (the model's window (max_position_embeddings in config.json) is 512 tokens and the prompt takes ${promptLength})`,
  );
  expect(text).toMatch(/training pair 1: \d+ of 10000 chosen sentences cut off entirely by the truncation/);
  // Each sentence is about six tokens: CLIP saw the first ~80 sentences, not 10,000.
  expect(asked).toHaveLength(1);
  expect(asked[0]).toBeLessThan(kept / 4);
  expect(Number(/(\d+) of 10000 chosen sentences cut off/.exec(text)![1])).toBe(10_000 - asked[0]);
  expect(splitSentences(chosen)).toHaveLength(10_000);
  trainer.dispose();
});
