/**
 * The training benchmark's page side (scripts/bench-train.ts): real Trainers, one per variant, on the sandbox
 * pairs, stepped interleaved on the page's main thread; a 'recompute' variant first runs the reference forwards a
 * trainer without the cache would run.
 */
import * as tf from '@tensorflow/tfjs';
import type { PreferencePair } from '../data/pairs';
import { catalogEntry, SANDBOX_CLIP_ID, sourceFor } from '../models/catalog';
import { loadClipScorer } from '../models/clip';
import type { Idefics3Config } from '../models/config';
import { urlPrefixSource } from '../models/sources';
import { loadTfjsEngine, type TfjsEngine } from '../models/tfjs/engine';
import { parameterCount } from '../models/tfjs/weights';
import { sandboxPairs } from '../sandbox/preferences';
import { clipSimilarities, withSimilarities } from '../train/clipSimilarity';
import { DataOrder } from '../train/dataOrder';
import { encodePair, pairLogps, sandboxImageLoader, type EncodedPair } from '../train/pairPreparation';
import { resolveSettings } from '../train/settings';
import { loraOptions, Trainer } from '../train/trainer';
import { disposeBench } from './benchEngine';
import { memory, weightsOnBackend } from './page';
import type { MemoryInfo, TrainerBenchArgs, TrainerBenchResult, TrainerBenchSetupArgs, TrainerBenchSetupResult, TrainerBenchVariant } from './protocol';
import { randomSmolvlm256m } from './randomModel';

interface TrainerBenchRun {
  variant: TrainerBenchVariant;
  trainer: Trainer;
  /** The Trainer's data order, followed alongside it, to know the next batch for 'recompute' (every sandbox pair is usable). */
  order: DataOrder;
}

interface TrainerBenchState {
  engine: TfjsEngine;
  runs: TrainerBenchRun[];
  /** Per pair: the encoded prompt and the cut responses (what the Trainer caches), for 'recompute'. */
  encoded: EncodedPair[];
  batchSize: number;
}

let trainerBench: TrainerBenchState | null = null;

export function benchTrainerUnload(): MemoryInfo {
  if (trainerBench) {
    for (const r of trainerBench.runs) r.trainer.dispose();
    trainerBench.engine.dispose();
    trainerBench = null;
  }
  return memory();
}

/** The random SmolVLM-256M-shaped model, with the tiny SmolVLM's tokenizer (its ids are valid ids of the large vocabulary). */
async function random256mEngine(lora: ReturnType<typeof loraOptions>, seed: number): Promise<TfjsEngine> {
  const tiny = await loadTfjsEngine(urlPrefixSource('/models/tiny-smolvlm'));
  tiny.dispose();
  return randomSmolvlm256m(seed, { tokenizer: tiny.tokenizer, format: { contentAsParts: true, endOfTurnId: tiny.format.endOfTurnId } }, lora);
}

export async function benchTrainerSetup(args: TrainerBenchSetupArgs): Promise<TrainerBenchSetupResult> {
  benchTrainerUnload();
  disposeBench();
  if (!(await tf.setBackend(args.backend))) throw new Error(`tf.setBackend('${args.backend}') failed`);
  await tf.ready();
  if (args.variants.length === 0) throw new Error('no variants');
  const random = args.model.kind === 'random-smolvlm-256m';
  let pairs: PreferencePair[] = sandboxPairs().train.slice(0, args.pairs ?? undefined);
  // S_i from the sandbox CLIP, stored with the pairs, so that the random model's text-only pairs keep them.
  const clip = await loadClipScorer(sourceFor(catalogEntry(SANDBOX_CLIP_ID), ''), { device: 'wasm' });
  try {
    pairs = await withSimilarities(pairs, clipSimilarities(async () => clip, sandboxImageLoader));
  } finally {
    clip.dispose();
  }
  if (random) pairs = pairs.map(({ image: _image, ...rest }) => rest);
  const input = { ...args.settings, objective: args.variants[0].objective, steps: 100_000 };
  let settings = resolveSettings(input);
  const t0 = performance.now();
  const engine =
    args.model.kind === 'url'
      ? await loadTfjsEngine(urlPrefixSource(args.model.url), { lora: loraOptions(settings) })
      : await random256mEngine(loraOptions(settings), args.model.seed);
  await weightsOnBackend(engine.model.lora.variables());
  const loadMs = performance.now() - t0;
  try {
    if (random && args.responseTokens) {
      const prompts = await Promise.all(pairs.map((p) => engine.encodePrompt(p.prompt)));
      const longest = Math.max(...prompts.map((e) => e.promptIds.length));
      settings = resolveSettings({ ...input, maxSeqLen: longest + args.responseTokens });
    }
    // Before the trainers prepare, as they would find it: the engine has computed (and cached) the images' features.
    const encoded: EncodedPair[] = [];
    for (const [i, pair] of pairs.entries()) {
      const e = await encodePair({ engine, settings, loadImage: sandboxImageLoader }, pair, `training pair ${i + 1}`);
      if ('leftOut' in e) throw new Error(e.leftOut);
      encoded.push(e);
    }
    const runs: TrainerBenchRun[] = [];
    const prepareMs: Record<string, number> = {};
    const notices: string[] = [];
    trainerBench = { engine, runs, encoded, batchSize: settings.batchSize };
    for (const variant of args.variants) {
      const trainer = new Trainer({ engine, pairs, settings: { ...settings, objective: variant.objective } });
      runs.push({ variant, trainer, order: new DataOrder(pairs.length, settings.seed) });
      const p0 = performance.now();
      await trainer.prepare();
      prepareMs[variant.name] = performance.now() - p0;
      for (const n of trainer.notices) if (!notices.includes(n)) notices.push(n);
    }
    return {
      backend: tf.getBackend(),
      parameters: parameterCount(engine.config as Idefics3Config),
      trainableParameters: engine.model.lora.variables().reduce((n, v) => n + v.size, 0),
      loadMs,
      prepareMs,
      settings,
      pairs: pairs.length,
      withImages: pairs.some((p) => p.image !== undefined),
      firstPair: { promptTokens: encoded[0].encoded.promptIds.length, chosenTokens: encoded[0].chosen.tokens.ids.length, rejectedTokens: encoded[0].rejected.tokens.ids.length },
      notices,
    };
  } catch (err) {
    if (trainerBench) benchTrainerUnload();
    else engine.dispose();
    throw err;
  }
}

async function trainerStep(state: TrainerBenchState, run: TrainerBenchRun): Promise<{ ms: number; referenceMs: number; loss: number; skipped?: string }> {
  const t0 = performance.now();
  const batch = run.order.next(state.batchSize).indices;
  let referenceMs = 0;
  if (run.variant.reference === 'recompute') {
    await Promise.all(
      batch.map((i) => {
        const p = state.encoded[i];
        return pairLogps(state.engine, p.encoded, { chosen: { ids: p.chosen.tokens.ids }, rejected: { ids: p.rejected.tokens.ids } }, false);
      }),
    );
    referenceMs = performance.now() - t0;
  }
  const report = await run.trainer.step();
  const ms = performance.now() - t0;
  if (report.pairs.join() !== batch.join()) {
    throw new Error(`the benchmark predicted pairs ${batch.join()} but the Trainer stepped on ${report.pairs.join()}`);
  }
  return { ms, referenceMs, loss: report.metrics.loss, skipped: report.skipped };
}

export async function benchTrainer(args: TrainerBenchArgs): Promise<TrainerBenchResult> {
  const state = trainerBench;
  if (!state) throw new Error('no trainers set up: call benchTrainerSetup first');
  const runs = (args.variants ?? state.runs.map((r) => r.variant.name)).map((n) => {
    const run = state.runs.find((r) => r.variant.name === n);
    if (!run) throw new Error(`no variant named ${n} was set up`);
    return run;
  });
  const result: TrainerBenchResult = {
    backend: tf.getBackend(),
    runsMs: {},
    referenceMs: {},
    warmupMs: {},
    losses: {},
    skippedSteps: [],
    memoryBefore: memory(),
    memoryAfter: memory(),
  };
  for (const r of runs) {
    const name = r.variant.name;
    result.runsMs[name] = [];
    result.referenceMs[name] = [];
    result.warmupMs[name] = [];
    result.losses[name] = [];
  }
  for (let round = 0; round < args.warmupRounds + args.rounds; round++) {
    const measured = round >= args.warmupRounds;
    for (let k = 0; k < runs.length; k++) {
      const r = runs[(k + round) % runs.length];
      const name = r.variant.name;
      const step = await trainerStep(state, r);
      if (step.skipped) result.skippedSteps.push(`${name}: ${step.skipped}`);
      if (!measured) {
        result.warmupMs[name].push(step.ms);
        continue;
      }
      result.runsMs[name].push(step.ms);
      result.referenceMs[name].push(step.referenceMs);
      result.losses[name].push(step.loss);
    }
    if (!measured && round === args.warmupRounds - 1) result.memoryBefore = memory();
  }
  result.memoryAfter = memory();
  return result;
}
