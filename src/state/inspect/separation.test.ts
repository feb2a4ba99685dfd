import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, fixtureSource, nodeFolderSource } from '../../../scripts/lib/nodeModelSource';
import { loadClipScorer, type ClipScorer } from '../../models/clip';
import type { MllmEngine } from '../../models/engine';
import { loadOnnxEngine } from '../../models/onnx/engine';
import { HELD_OUT_SET } from '../../sandbox/splits';
import { evaluateSandbox, type WeightSettings } from '../sandbox/evaluate';
import { useSeparation } from './separation';

const SETTINGS: WeightSettings = { alpha: 0.3, beta: 0.1, normalization: 'mean', granularity: 'sentence', perplexitySource: 'policy' };

let engine: MllmEngine;
let clip: ClipScorer;

beforeAll(async () => {
  engine = await loadOnnxEngine(fixtureSource('tiny-smolvlm'), { device: 'cpu' });
  clip = await loadClipScorer(nodeFolderSource(join(FIXTURE_MODELS, 'tiny-clip')), { device: 'cpu' });
});
afterAll(() => {
  engine.dispose();
  clip.dispose();
});

describe("the Inspect tab's separation run", () => {
  it('runs the sandbox evaluation on the first scenes at the settings given, reports progress, and keeps its figures with the models', async () => {
    const stages: string[] = [];
    const unsubscribe = useSeparation.subscribe((s) => s.progress && stages.push(s.progress.stage));
    await useSeparation.getState().run({ engine, clip, models: 'tiny models', settings: SETTINGS, scenes: 2 });
    unsubscribe();
    const state = useSeparation.getState();
    expect(state).toMatchObject({ status: 'done', progress: null, error: null });
    expect(state.result?.models).toBe('tiny models');
    const expected = await evaluateSandbox({ engine, clip, scenes: HELD_OUT_SET.slice(0, 2), settings: SETTINGS });
    expect(state.result?.evaluation).toEqual(expected);
    expect(state.result?.evaluation.settings.alpha).toBe(0.3);
    expect(stages[0]).toBe('starting');
    expect(stages).toContain('scene 2 of 2: description');
  });

  it('stops at Cancel, says so, and keeps the figures of the run before', async () => {
    const before = useSeparation.getState().result;
    const run = useSeparation.getState().run({ engine, clip, models: 'tiny models', settings: SETTINGS, scenes: HELD_OUT_SET.length });
    expect(useSeparation.getState().status).toBe('running');
    useSeparation.getState().cancel();
    await run;
    expect(useSeparation.getState()).toMatchObject({ status: 'cancelled', error: null, progress: null });
    expect(useSeparation.getState().result).toBe(before);
  });
});
