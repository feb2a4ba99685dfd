/**
 * The sandbox CLIP (issue 12, item 4): a tiny `CLIPModel` trained from scratch on the sandbox world's training
 * split, on TF.js' WASM backend, deterministically from a seed, and written in the Hugging Face layout of
 * openai/clip-vit-base-patch32 (`clipModelFolder`, the tiny CLIP's own folder builder: ONNX towers included).
 *
 * - Input: the world's 64×64 scenes in patches of 16 (a 4×4 grid and a class token); text: a byte-level BPE learnt
 *   from every sentence of the caption language until each of its words is one token (`languageSentences`).
 * - A step: `batch` training scenes (`sampleTrainingScene`), each rendered with a fresh seed, against every
 *   sentence of TRAINING_LANGUAGE: each true sentence of a scene is a positive of `clipContrastiveLoss` (InfoNCE
 *   both ways, with exact ground truth: a sentence true of an image is never its negative), and for each kind of
 *   falsehood the scene allows, a true sentence and the same sentence made false (`madeFalse`: the noisy SFT
 *   data's corruptions, and the background) is a hard pair.
 * - Adam (src/train/adam.ts) with a linear warm-up and a cosine decay; logit_scale is kept ≤ ln 100 as CLIP does.
 */
import * as tf from '@tensorflow/tfjs';
import { CLIPTokenizer } from '@huggingface/transformers';
import { Prng } from '../../src/models/prng';
import { clipFamily } from '../../src/models/families/clip';
import { clipContrastiveLoss, TfjsClip, type ClipModelConfig, type ContrastiveBatch } from '../../src/models/tfjs/clip';
import { descriptionSentences, parseSentence } from '../../src/sandbox/captions';
import { renderScene } from '../../src/sandbox/render';
import type { Scene } from '../../src/sandbox/scene';
import { allScenes, heldOutReason, sampleTrainingScene } from '../../src/sandbox/splits';
import { Adam } from '../../src/train/adam';
import { learningRate } from '../../src/train/schedule';
import { startNodeBackend } from '../lib/nodeBackend';
import { makeTinyClip, type ClipConfig } from '../onnx/clip';
import type { WeightMap } from '../onnx/idefics3';
import type { TinyModel } from '../tiny-models/common';
import { clipModelFolder } from '../tiny-models/clip';
import { buildClipTokenizer, CLIP_BOS, CLIP_EOS, type TinyTokenizer } from '../tiny-models/tokenizer';
import { falseKindsFor, languageSentences, madeFalse, type SentencePair } from './clipPairs';

export const SANDBOX_CLIP_NAME = 'sandbox-clip';

export interface SandboxClipOptions {
  seed: number;
  steps: number;
  /** scenes per step */
  batch: number;
  /** peak learning rate */
  lr: number;
  warmup: number;
  /** the vision tower's patch side (default 16: a 4×4 grid of the 64×64 scene) */
  patch?: number;
  /** the vision tower's width and depth (default 64, 2) */
  visionWidth?: number;
  visionLayers?: number;
  /** the weight of the hard pairs' loss beside InfoNCE (default 1) */
  hardWeight?: number;
  /** the weight of the sentences' uniformity beside InfoNCE (default 0) */
  uniformityWeight?: number;
  /** the vision position embeddings' init: N(0, 0.02²) as Hugging Face draws them, or 2-D sines and cosines */
  positions?: 'normal' | 'sincos';
  /** progress lines (stderr) */
  log?: (line: string) => void;
}

export const SANDBOX_CLIP_DEFAULTS: SandboxClipOptions = { seed: 1, steps: 2400, batch: 32, lr: 1.5e-3, warmup: 100 };

/** Text window: the longest sentence of the language is 10 tokens with its start and end tokens. */
const CONTEXT = 16;
const MAX_LOGIT_SCALE = Math.log(100);
/** The CLIP image normalisation of the folder's preprocessor_config.json (openai's). */
const IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073];
const IMAGE_STD = [0.26862954, 0.26130258, 0.27577711];

/** A byte-level BPE of the caption language: enough merges that every word of it is one token. */
export function sandboxClipTokenizer(): TinyTokenizer {
  return buildClipTokenizer(languageSentences().join('\n'), 10_000);
}

/**
 * The untrained model: the config of `makeTinyClip` at the sandbox's size, and weights drawn as
 * `CLIPPreTrainedModel._init_weights` draws them (initializer_factor 1): embeddings N(0, 0.02²), the class token
 * N(0, 1/D), attention and MLP matrices with its fan-in and depth scaling, projections N(0, 1/D), LayerNorms 1 and
 * 0, biases 0, logit_scale ln(1/0.07). (makeTinyClip's own random weights make a model for loading tests, not
 * one to train.)
 */
export interface SandboxClipShape {
  patch: number;
  visionWidth: number;
  visionLayers: number;
  positions: 'normal' | 'sincos';
}

const DEFAULT_SHAPE: SandboxClipShape = { patch: 16, visionWidth: 64, visionLayers: 2, positions: 'normal' };

/**
 * 2-D sine-cosine position embeddings of a g×g grid of patches (MAE's), the class token's row 0: half the
 * channels code the column, half the row, each at D/4 frequencies.
 */
export function sincosPositions(g: number, D: number): Float32Array {
  const out = new Float32Array((g * g + 1) * D);
  const F = D / 4;
  for (let y = 0; y < g; y++) {
    for (let x = 0; x < g; x++) {
      const row = (1 + y * g + x) * D;
      for (let f = 0; f < F; f++) {
        const w = 1 / 10000 ** (f / F);
        out[row + f] = Math.sin(x * w);
        out[row + F + f] = Math.cos(x * w);
        out[row + 2 * F + f] = Math.sin(y * w);
        out[row + 3 * F + f] = Math.cos(y * w);
      }
    }
  }
  return out;
}

export function sandboxClipInit(tok: TinyTokenizer, seed: number, shape: Partial<SandboxClipShape> = {}): { config: ClipConfig; weights: WeightMap } {
  const { patch, visionWidth, visionLayers, positions } = Object.fromEntries(
    Object.entries(DEFAULT_SHAPE).map(([k, v]) => [k, shape[k as keyof SandboxClipShape] ?? v]),
  ) as unknown as SandboxClipShape;
  const eos = tok.specialIds[CLIP_EOS];
  const { config } = makeTinyClip(seed, {
    vocabSize: tok.size,
    bosTokenId: tok.specialIds[CLIP_BOS],
    eosTokenId: eos,
    padTokenId: eos,
    maxPositionEmbeddings: CONTEXT,
    text: { hidden: 64, intermediate: 128, heads: 4, layers: 2 },
    vision: { hidden: visionWidth, intermediate: 2 * visionWidth, heads: 4, layers: visionLayers },
    imageSize: 64,
    patchSize: patch,
    projectionDim: 32,
  });
  const prng = new Prng(seed);
  const weights: WeightMap = new Map();
  for (const [name, shape] of clipFamily.weightShapes(config)) {
    const tower = name.startsWith('text') ? config.text_config : config.vision_config;
    const D = tower.hidden_size;
    const inProj = D ** -0.5 * (2 * tower.num_hidden_layers) ** -0.5;
    let std = 0;
    if (name === 'vision_model.embeddings.position_embedding.weight' && positions === 'sincos') {
      weights.set(name, { shape, data: sincosPositions(64 / patch, D) });
      continue;
    }
    if (name === 'logit_scale') {
      weights.set(name, { shape, data: Float32Array.of(config.logit_scale_init_value as number) });
      continue;
    }
    if (/norm\d?\.weight$|layrnorm\.weight$/.test(name)) {
      weights.set(name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1) });
      continue;
    }
    if (name.endsWith('class_embedding') || name.endsWith('_projection.weight')) std = D ** -0.5;
    else if (name.includes('embedding')) std = 0.02;
    else if (/(q|k|v)_proj\.weight$|fc2\.weight$/.test(name)) std = inProj;
    else if (name.endsWith('out_proj.weight')) std = D ** -0.5;
    else if (name.endsWith('fc1.weight')) std = (2 * D) ** -0.5;
    weights.set(name, { shape, data: std === 0 ? new Float32Array(shape.reduce((a, b) => a * b, 1)) : prng.normals(shape.reduce((a, b) => a * b, 1), std) });
  }
  return { config, weights };
}

/**
 * CLIPImageProcessor's output for a 64×64 RGB picture at image_size 64 (resize and crop leave it as it is):
 * rescale by 1/255, normalise per channel, channels first. tests/sandbox-clip.test.ts checks it against
 * transformers.js' processor.
 */
export function scenePixels(rgb: Uint8ClampedArray, size: number): Float32Array {
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < size * size; p++) out[c * size * size + p] = (rgb[p * 3 + c] / 255 - IMAGE_MEAN[c]) / IMAGE_STD[c];
  }
  return out;
}

/**
 * The sentences a training step scores: those true of some training scene, and the absent objects. A sentence true
 * only of held-out scenes (`There is one green triangle.`) is never shown: seen only as a falsehood, it would teach
 * the model that the held-out combinations are never there.
 */
export const TRAINING_LANGUAGE: readonly string[] = (() => {
  const seen = new Set(allScenes().flatMap((s) => (heldOutReason(s) === null ? descriptionSentences(s) : [])));
  return languageSentences().filter((s) => seen.has(s) || parseSentence(s)?.kind === 'absent');
})();

/** For each kind of false sentence the scene allows, a true sentence and the same sentence made false, within TRAINING_LANGUAGE. */
export function trainingPairs(scene: Scene, prng: Prng): SentencePair[] {
  const allowed = new Set(TRAINING_LANGUAGE);
  return falseKindsFor(scene).flatMap((kind) => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const pair = madeFalse(scene, kind, prng);
      if (allowed.has(pair.falsehood)) return [pair];
    }
    return [];
  });
}

export interface SandboxClipResult {
  model: TinyModel;
  /** the loss of every step */
  losses: number[];
  seconds: number;
}

/** Trains the sandbox CLIP on WASM and returns its folder; its README.md is empty, for the caller to write with its figures. */
export async function trainSandboxClip(options: SandboxClipOptions): Promise<SandboxClipResult> {
  const o = options;
  const log = o.log ?? (() => undefined);
  const { backend, threads } = await startNodeBackend('wasm');
  const tok = sandboxClipTokenizer();
  const { config, weights } = sandboxClipInit(tok, o.seed, { patch: o.patch, visionWidth: o.visionWidth, visionLayers: o.visionLayers, positions: o.positions });
  const folder = clipModelFolder(SANDBOX_CLIP_NAME, config, weights, tok, '');
  const tokenizer = new CLIPTokenizer(JSON.parse(folder.files['tokenizer.json'] as string), JSON.parse(folder.files['tokenizer_config.json'] as string));
  const eos = tok.specialIds[CLIP_EOS];
  const rows = TRAINING_LANGUAGE.map((s) => tokenizer.encode(s) as number[]);
  const T = Math.max(...rows.map((r) => r.length));
  const texts = rows.map((r) => [...r, ...Array<number>(T - r.length).fill(eos)]);
  const textIndex = new Map(TRAINING_LANGUAGE.map((s, k) => [s, k]));
  const model = new TfjsClip(config as ClipModelConfig, weights);
  const adam = new Adam(model.variables);
  const logitScale = model.params.get('logit_scale')!;
  const prng = new Prng(o.seed);
  const size = config.vision_config.image_size;
  const losses: number[] = [];
  const started = performance.now();
  log(`sandbox-clip: ${o.steps} steps of ${o.batch} scenes on ${backend} (${threads ?? 1} thread), seed ${o.seed}, vocabulary ${tok.size}`);
  for (let step = 0; step < o.steps; step++) {
    const scenes = Array.from({ length: o.batch }, () => sampleTrainingScene(prng));
    const pixels = new Float32Array(o.batch * 3 * size * size);
    const positives: ContrastiveBatch['positives'] = [];
    const hard: ContrastiveBatch['hard'] = [];
    scenes.forEach((scene, b) => {
      pixels.set(scenePixels(renderScene(scene, prng.int(2 ** 32)).data, size), b * 3 * size * size);
      for (const fact of descriptionSentences(scene)) positives.push({ image: b, text: textIndex.get(fact)! });
      for (const pair of trainingPairs(scene, prng)) hard.push({ image: b, truth: textIndex.get(pair.truth)!, falsehood: textIndex.get(pair.falsehood)! });
    });
    const truth = scenes.map((scene) => {
      const facts = new Set(descriptionSentences(scene));
      return TRAINING_LANGUAGE.map((s) => facts.has(s));
    });
    const pixelTensor = tf.tensor4d(pixels, [o.batch, 3, size, size]);
    const { value, grads } = tf.variableGrads(() => clipContrastiveLoss(model, { pixels: pixelTensor, texts, truth, positives, hard, hardWeight: o.hardWeight, uniformityWeight: o.uniformityWeight }), model.variables);
    adam.apply(
      model.variables.map((v) => grads[v.name]),
      learningRate(step, o.lr, o.warmup, o.steps),
    );
    tf.tidy(() => logitScale.assign(tf.minimum(logitScale, MAX_LOGIT_SCALE)));
    const loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads), pixelTensor]);
    if (!Number.isFinite(loss)) throw new Error(`sandbox-clip: the loss is ${loss} at step ${step + 1}`);
    losses.push(loss);
    if ((step + 1) % 25 === 0 || step === 0 || step + 1 === o.steps) {
      const s = (performance.now() - started) / 1000;
      const recent = losses.slice(-25);
      log(`step ${step + 1}/${o.steps}  loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)}  lr ${learningRate(step, o.lr, o.warmup, o.steps).toExponential(2)}  ${s.toFixed(0)} s`);
    }
  }
  const trained = await model.weightMap();
  adam.dispose();
  model.dispose();
  const seconds = (performance.now() - started) / 1000;
  return { model: clipModelFolder(SANDBOX_CLIP_NAME, config, trained, tok, ''), losses, seconds };
}
