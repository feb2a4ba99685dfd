/**
 * "Before and after": the model's greedy answers to held-out sandbox scenes with the adapters off and on, and
 * held-out reward metrics with the adapters zeroed (= the reference) and as trained.
 */
import * as tf from '@tensorflow/tfjs';
import type { TfjsEngine } from '../../models/tfjs/engine';
import { sandboxPairs } from '../../sandbox/preferences';
import type { CompareOptions, Comparison } from '../client';
import { sandboxImageLoader } from '../pairPreparation';
import { resolveSettings } from '../settings';
import { Trainer } from '../trainer';
import { loraOf } from './model';
import { sandboxSimilarities } from './sandboxClip';
import type { WorkerState } from './state';

const { train: SANDBOX_TRAIN, heldOut: HELD_OUT } = sandboxPairs();

/** Current adapter values, to restore after something that resets or zeroes them. */
function snapshotAdapters(engine: TfjsEngine): tf.Tensor[] {
  return engine.model.lora.variables().map((v) => tf.clone(v));
}
function restoreAdapters(engine: TfjsEngine, saved: tf.Tensor[]) {
  engine.model.lora.variables().forEach((v, i) => v.assign(saved[i]));
  tf.dispose(saved);
}

export async function compare(s: WorkerState, runId: string | null, { prompts, maxNewTokens, heldOutPairs }: CompareOptions): Promise<Comparison> {
  const run = s.run;
  if (run?.loop) throw new Error('pause the run before comparing (the comparison uses the model the run trains)');
  if (!s.model?.engine) throw new Error('load a model first');
  const engine = s.model.engine;
  const multimodal = engine.multimodal;
  const notices: string[] = [];
  if (runId && run?.runId !== runId) notices.push('the adapters shown are the ones in the model now, not those of the selected run');
  const generations: Comparison['generations'] = [];
  for (const pair of HELD_OUT.slice(0, Math.max(1, prompts))) {
    const image = multimodal && pair.image ? await sandboxImageLoader(pair.image, pair) : undefined;
    const prompt = image ? pair.prompt : `${pair.prompt} (${pair.chosen.split('.')[0].toLowerCase()})`;
    const before = await engine.generate({ prompt, image, maxNewTokens, greedy: true, adapters: false });
    const after = await engine.generate({ prompt, image, maxNewTokens, greedy: true, adapters: true });
    generations.push({ prompt: pair.prompt, image: pair.image ?? '', reference: pair.chosen, before: before.text, after: after.text, beforeIds: before.ids, afterIds: after.ids });
  }
  // Held-out metrics: a Trainer with the run's settings (or the model's adapters' shape), which resets the
  // adapters on construction, so they are kept aside and put back; "before" is the adapters zeroed (B = 0).
  const saved = snapshotAdapters(engine);
  const lora = engine.model.lora;
  const settings = run?.trainer.settings ?? resolveSettings({ steps: 1, lora: loraOf(engine) });
  // A run on other data loads its images and S_i its own way: the sandbox pairs get a Trainer of their own.
  const own = multimodal && run?.data.kind !== 'sandbox' ? new Trainer({ engine, pairs: SANDBOX_TRAIN, settings, similarity: sandboxSimilarities }) : null;
  const evaluator = multimodal ? (own ?? run?.trainer ?? null) : null;
  let heldOut: Comparison['heldOut'];
  try {
    if (!evaluator) throw new Error('held-out sandbox pairs need a multimodal model (they have images)');
    for (const name of lora.names()) lora.get(name)!.B.assign(tf.zerosLike(lora.get(name)!.B));
    const pairs = HELD_OUT.slice(0, Math.max(1, heldOutPairs));
    const before = await evaluator.evaluate(pairs);
    restoreAdapters(engine, saved.map((t) => tf.clone(t)));
    const after = await evaluator.evaluate(pairs);
    heldOut = { before: before.metrics, after: after.metrics, pairs: after.pairs };
    notices.push(...after.notices);
  } finally {
    restoreAdapters(engine, saved);
    own?.dispose();
  }
  return { runId: run?.runId ?? runId, step: run?.trainer.stepsDone ?? null, generations, heldOut, notices };
}
