/**
 * The sandbox evaluation (issue 12, items 5 and 6): a model's hallucination figures on held-out scenes, and how
 * well ASPO's per-sentence numbers single out the hallucinated sentences. The command line (`sandbox eval`) and
 * the Inspect tab run this one function; docs/sandbox.md states what is scored.
 *
 * Per scene, all greedy: the description for `Describe the picture.` (judged); the yes/no probes of
 * `balancedProbes` and the how-many questions about the same pairs. Then the greedy description and one corrupted
 * correct description (`corruptDescription`, so that every scene has hallucinated sentences however rarely the
 * model errs) are scored as the Inspect tab scores a pair's responses (`scoreDecodedPair`, `computeInspect`):
 * each sentence's `Ŝ_i`, `P̂_i` and `w_i` at the given settings, beside the judge's verdict.
 */
import { RawImage } from '@huggingface/transformers';
import { splitSentences } from '../../aspo';
import { DEFAULT_ASPO_SETTINGS, type AspoSettings } from '../../aspo/settings';
import { EMPTY_BOOK, recordScores } from '../../data/sentenceNumbers';
import type { ClipScorer } from '../../models/clip';
import type { GenerateResult, MllmEngine } from '../../models/engine';
import { imageKey } from '../../models/imageKey';
import { Prng } from '../../models/prng';
import { DESCRIBE_PROMPT } from '../../sandbox/captions';
import { countMetrics, countProbes, separation, type CountMetrics, type Separation } from '../../sandbox/evalFigures';
import { balancedProbes, descriptionMetrics, judgeDescription, popeMetrics, type DescriptionMetrics, type JudgedSentence, type PopeMetrics } from '../../sandbox/judge';
import { corruptDescription, corruptionKindsFor, type Corruption } from '../../sandbox/noise';
import { renderScene } from '../../sandbox/render';
import type { Scene } from '../../sandbox/scene';
import { HELD_OUT_SET, type HeldOutScene } from '../../sandbox/splits';
import { computeInspect } from '../inspect/compute';
import { scoreDecodedPair, type PairScoresForUi } from '../inspect/scorePair';

/** The settings of the Inspect tab that its weights depend on. */
export type WeightSettings = Pick<AspoSettings, 'alpha' | 'beta' | 'normalization' | 'granularity' | 'perplexitySource'>;

/** Tokens a description may take by default: a two-group description is about 30 with a word-level tokenizer. */
export const DEFAULT_DESCRIPTION_TOKENS = 64;
/** Tokens an answer may take (`Three.` and the end of the turn, with room to show what else a model says). */
export const ANSWER_TOKENS = 8;

export interface SandboxEvalOptions {
  engine: MllmEngine;
  clip: ClipScorer;
  /** default HELD_OUT_SET, all 120 */
  scenes?: readonly HeldOutScene[];
  /** draws the probes' negatives and the corruptions; default 0 */
  seed?: number;
  /** the description's token limit (answers take at most ANSWER_TOKENS); default DEFAULT_DESCRIPTION_TOKENS */
  maxNewTokens?: number;
  /** default the app's (DEFAULT_ASPO_SETTINGS) */
  settings?: Partial<WeightSettings>;
  /** aborting ends the evaluation with an AbortError after the generation in flight */
  signal?: AbortSignal;
  onProgress?: (progress: SandboxEvalProgress) => void;
}

export interface SandboxEvalProgress {
  /** scenes finished */
  done: number;
  total: number;
  /** what runs now, in words */
  stage: string;
}

/** A judged sentence with the Inspect tab's numbers for it. */
export type ScoredSentence = JudgedSentence & { similarity: number; perplexity: number; simNorm: number; pplNorm: number; weight: number };

export interface ScoredDescription {
  text: string;
  sentences: ScoredSentence[];
}

export interface SceneEvaluation {
  scene: Scene;
  /** the render seed */
  seed: number;
  greedy: ScoredDescription & { stop: GenerateResult['stop'] };
  corrupted: ScoredDescription & { corruption: Corruption };
  yesNo: { question: string; truth: boolean; answer: string }[];
  howMany: { question: string; truth: number; answer: string }[];
  /** what the models' windows cut, in words */
  notices: string[];
}

export interface SandboxEvaluation {
  scenes: number;
  seed: number;
  maxNewTokens: number;
  settings: WeightSettings;
  /** the judge's figures of the greedy descriptions */
  descriptions: DescriptionMetrics;
  /** greedy descriptions that stopped at maxNewTokens (or the window) rather than at the end of the turn */
  cutDescriptions: number;
  yesNo: PopeMetrics;
  howMany: CountMetrics;
  /** AUROCs of Ŝ, P̂ and w, correct against hallucinated sentences: greedy and corrupted descriptions pooled, and greedy alone */
  separation: { pooled: Separation; greedy: Separation };
  perScene: SceneEvaluation[];
}

function throwIfAborted(signal: AbortSignal | undefined) {
  if (signal?.aborted) throw new DOMException('The sandbox evaluation was cancelled.', 'AbortError');
}

/** One side of a scored pair with the Inspect tab's numbers, each sentence beside its verdict. */
function scoredSide(scene: Scene, scores: PairScoresForUi, side: 'chosen' | 'rejected', settings: WeightSettings): ScoredDescription {
  // Only the chosen side is reweighted, so the other description is put there to get its weights.
  const swap = side === 'rejected';
  const record = swap ? { ...scores.record, chosen: scores.record.rejected, rejected: scores.record.chosen } : scores.record;
  const scored = swap ? { chosen: scores.scored.rejected, rejected: scores.scored.chosen } : scores.scored;
  const view = computeInspect({
    chosen: record.chosen.response,
    rejected: record.rejected.response,
    book: recordScores(EMPTY_BOOK, record),
    pair: record.pair,
    ...settings,
    scored,
  });
  const text = record.chosen.response;
  const sentences = judgeDescription(scene, text).sentences.map((judged): ScoredSentence => {
    const row = view.chosen.find((r) => r.start === judged.start)!;
    return { ...judged, similarity: row.numbers.similarity, perplexity: row.perplexity, simNorm: row.simNorm!, pplNorm: row.pplNorm!, weight: row.weight! };
  });
  return { text, sentences };
}

async function answer(engine: MllmEngine, image: RawImage, prompt: string, maxNewTokens: number, signal: AbortSignal | undefined): Promise<GenerateResult> {
  throwIfAborted(signal);
  const result = await engine.generate({ image, prompt, maxNewTokens, greedy: true, signal });
  throwIfAborted(signal);
  return result;
}

/** Every figure of the sandbox evaluation in one call (see the module comment and docs/sandbox.md). */
export async function evaluateSandbox(options: SandboxEvalOptions): Promise<SandboxEvaluation> {
  const { engine, clip, signal, onProgress } = options;
  const scenes = options.scenes ?? HELD_OUT_SET;
  const seed = options.seed ?? 0;
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_DESCRIPTION_TOKENS;
  if (!Number.isSafeInteger(maxNewTokens) || maxNewTokens < 1) throw new RangeError(`maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  const settings: WeightSettings = {
    alpha: DEFAULT_ASPO_SETTINGS.alpha,
    beta: DEFAULT_ASPO_SETTINGS.beta,
    normalization: DEFAULT_ASPO_SETTINGS.normalization,
    granularity: DEFAULT_ASPO_SETTINGS.granularity,
    perplexitySource: DEFAULT_ASPO_SETTINGS.perplexitySource,
    ...options.settings,
  };
  const answerTokens = Math.min(ANSWER_TOKENS, maxNewTokens);
  // One stream, drawn scene by scene in order: the first N scenes are evaluated alike whatever N is.
  const prng = new Prng(seed);
  const perScene: SceneEvaluation[] = [];
  for (const [i, held] of scenes.entries()) {
    const stage = (what: string) => onProgress?.({ done: i, total: scenes.length, stage: `scene ${i + 1} of ${scenes.length}: ${what}` });
    throwIfAborted(signal);
    const { scene } = held;
    const probes = balancedProbes(scene, prng.int(2 ** 32));
    const kinds = corruptionKindsFor(scene);
    const { sentences, corruption } = corruptDescription(scene, kinds[prng.int(kinds.length)], prng);
    const pixels = renderScene(scene, held.seed);
    const image = new RawImage(pixels.data, pixels.width, pixels.height, pixels.channels);

    stage('description');
    const description = await answer(engine, image, DESCRIBE_PROMPT, maxNewTokens, signal);
    stage('yes/no questions');
    const yesNo = [];
    for (const p of probes) yesNo.push({ question: p.question, truth: p.truth, answer: (await answer(engine, image, p.question, answerTokens, signal)).text });
    stage('how-many questions');
    const howMany = [];
    for (const q of countProbes(scene, probes)) howMany.push({ ...q, answer: (await answer(engine, image, q.question, answerTokens, signal)).text });

    const corrupted = sentences.join(' ');
    // A description without a sentence (the model ended its turn at once) has nothing to weigh, and a pair needs two
    // texts with sentences: the corrupted one then stands on both sides.
    const spoke = splitSentences(description.text).length > 0;
    const scores = await scoreDecodedPair({
      engine,
      mllmLabel: engine.label,
      clip: { scorer: clip, label: clip.label },
      image,
      imageKey: imageKey(image),
      prompt: DESCRIBE_PROMPT,
      chosen: spoke ? description.text : corrupted,
      rejected: corrupted,
      signal: signal ?? new AbortController().signal,
      onStage: (what) => stage(`scoring (${what})`),
    });
    perScene.push({
      scene,
      seed: held.seed,
      greedy: { ...(spoke ? scoredSide(scene, scores, 'chosen', settings) : { text: description.text, sentences: [] }), stop: description.stop },
      corrupted: { ...scoredSide(scene, scores, 'rejected', settings), corruption },
      yesNo,
      howMany,
      notices: scores.notices.map((n) => n.replace(/^chosen response/, 'the greedy description').replace(/^rejected response/, 'the corrupted description')),
    });
  }
  onProgress?.({ done: scenes.length, total: scenes.length, stage: 'done' });

  const greedySentences = perScene.flatMap((s) => s.greedy.sentences);
  return {
    scenes: scenes.length,
    seed,
    maxNewTokens,
    settings,
    descriptions: descriptionMetrics(perScene.map((s) => judgeDescription(s.scene, s.greedy.text))),
    cutDescriptions: perScene.filter((s) => s.greedy.stop === 'length').length,
    yesNo: popeMetrics(perScene.flatMap((s) => s.yesNo)),
    howMany: countMetrics(perScene.flatMap((s) => s.howMany)),
    separation: {
      pooled: separation([...greedySentences, ...perScene.flatMap((s) => s.corrupted.sentences)]),
      greedy: separation(greedySentences),
    },
    perScene,
  };
}
