/**
 * The sandbox SmolVLM (issue 12, item 3): an Idefics3 / SmolVLM (SigLIP vision tower → pixel-shuffle connector →
 * Llama decoder, the layout of tiny-smolvlm and of the Hub's SmolVLM-256M-Instruct) trained from scratch on the
 * sandbox world's noisy SFT data (`sftExamples`: descriptions, a share of them with one sentence corrupted, and
 * yes/no and how-many questions), in full-weight mode (`loadTrainableTfjsModel`) on TF.js' WASM backend,
 * deterministically from a seed.
 *
 * - Input: the world's 64×64 scenes in patches of 8 (an 8×8 grid), pixel-shuffled by 2 into 16 image tokens; text:
 *   a byte-level BPE learnt from the sandbox's prompts and answers until each of their words is one token.
 * - A step: `batch` training scenes, each with its three examples (so 3·batch rows, each with its own rendering),
 *   the SFT loss (src/train/sft.ts), Adam (src/train/adam.ts) with a linear warm-up and a cosine decay
 *   (src/train/schedule.ts).
 * - The folder is written by the same code as tiny-smolvlm's (`smolvlmFolder`): config, tokenizer and processor
 *   files, `model.safetensors` in BF16 as the Hub's SmolVLMs store it, and ONNX files built from those BF16 values.
 */
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idefics3Family } from '../../src/models/families/idefics3';
import { serializeSafetensors, type SafetensorsTensor } from '../../src/models/safetensors';
import { promptText, tokenizeResponse } from '../../src/models/teacherForcing';
import { loadTfjsEngine, type TfjsEngine } from '../../src/models/tfjs/engine';
import type { Idefics3Model } from '../../src/models/tfjs/idefics3';
import { loadTrainableTfjsModel, weightMapOf } from '../../src/models/tfjs/weights';
import type { WeightMap } from '../../src/models/tfjs/weightReader';
import { countAnswer, countQuestion, DESCRIBE_PROMPT, existsQuestion, yesNoAnswer } from '../../src/sandbox/captions';
import { sftExamples, type SftExample } from '../../src/sandbox/noise';
import { layout, renderScene } from '../../src/sandbox/render';
import { COLOURS, SHAPES, type Scene } from '../../src/sandbox/scene';
import { sampleTrainingScene } from '../../src/sandbox/splits';
import { Prng } from '../../src/models/prng';
import { Adam } from '../../src/train/adam';
import { learningRate } from '../../src/train/schedule';
import { sftLoss, type SftRow } from '../../src/train/sft';
import { startNodeBackend } from '../lib/nodeBackend';
import { nodeFolderSource } from '../lib/nodeModelSource';
import { writeModel } from '../make-tiny-models';
import { randomTensors, type TextDims, type TinyModel, type VisionDims } from '../tiny-models/common';
import { smolvlmConfig, smolvlmFolder, type SmolvlmSpec } from '../tiny-models/smolvlm';
import { buildTokenizer, type TinyTokenizer } from '../tiny-models/tokenizer';
import { languageSentences } from './clipPairs';

export const SANDBOX_SMOLVLM_NAME = 'sandbox-smolvlm';

export interface SandboxSmolvlmOptions {
  seed: number;
  /** 0 writes the untrained model */
  steps: number;
  /** scenes per step (three examples each) */
  batch: number;
  /** peak learning rate */
  lr: number;
  warmup: number;
  /** the share of corrupted descriptions (NOISE_SHARE) */
  noiseShare: number;
  /** steps of the vision tower's first stage (see `pretrainVision`); 0 skips it */
  visionSteps: number;
  /** pictures per step of that stage */
  visionBatch: number;
  visionLr: number;
  /** progress lines (stderr) */
  log?: (line: string) => void;
}

export const SANDBOX_SMOLVLM_DEFAULTS: SandboxSmolvlmOptions = {
  seed: 1,
  steps: 1200,
  batch: 8,
  lr: 2e-3,
  warmup: 60,
  noiseShare: 0.15,
  visionSteps: 400,
  visionBatch: 32,
  visionLr: 3e-3,
};

export const SANDBOX_TEXT_DIMS: TextDims = {
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
};

export const SANDBOX_VISION_DIMS: VisionDims = {
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  image_size: 64,
  patch_size: 8,
};

/** Every prompt and answer of the sandbox, and the chat template's words: what the tokenizer is learnt from. */
function sandboxCorpus(): string {
  const kinds = COLOURS.flatMap((colour) => SHAPES.map((shape) => ({ colour, shape })));
  return [
    'User: Assistant:',
    DESCRIBE_PROMPT,
    ...languageSentences(),
    ...kinds.flatMap(({ colour, shape }) => [existsQuestion(colour, shape), countQuestion(colour, shape)]),
    yesNoAnswer(true),
    yesNoAnswer(false),
    ...[0, 1, 2, 3].map(countAnswer),
  ].join('\n');
}

/** A byte-level BPE of the sandbox's language with enough merges that each of its words is one token. */
export function sandboxSmolvlmTokenizer(): TinyTokenizer {
  return buildTokenizer(true, sandboxCorpus(), 10_000);
}

export function sandboxSmolvlmSpec(): SmolvlmSpec {
  return { name: SANDBOX_SMOLVLM_NAME, tokenizer: sandboxSmolvlmTokenizer(), text: SANDBOX_TEXT_DIMS, vision: SANDBOX_VISION_DIMS, scaleFactor: 2 };
}

export interface SandboxSmolvlmResult {
  model: TinyModel;
  /** the loss of every step */
  losses: number[];
  seconds: number;
}

/** model.safetensors in BF16, as the Hub's SmolVLMs store it. */
function bf16Safetensors(weights: WeightMap): Uint8Array {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of weights) tensors[name] = { dtype: 'BF16', shape: t.shape, data: t.data };
  return serializeSafetensors(tensors, { format: 'pt' });
}

/** Turns SFT examples into rows and pixels with the model's own chat template, image processor and tokenizer. */
class RowEncoder {
  private readonly promptIds = new Map<string, number[]>();

  constructor(private readonly engine: TfjsEngine) {}

  /** The processor's pixel values of a scene's picture, [3, H, W]. */
  async pixels(scene: Scene, seed: number): Promise<Float32Array> {
    return (await this.process(DESCRIBE_PROMPT, scene, seed)).pixel_values.data as Float32Array;
  }

  private async process(prompt: string, scene: Scene, seed: number) {
    const { engine } = this;
    const picture = renderScene(scene, seed);
    const image = new RawImage(picture.data, picture.width, picture.height, picture.channels);
    return engine.processor!(promptText(engine.tokenizer, prompt, true, engine.format), image);
  }

  async encode(example: SftExample): Promise<{ row: SftRow; pixels: Float32Array }> {
    const { engine } = this;
    const inputs = await this.process(example.prompt, example.scene, example.seed);
    let promptIds = this.promptIds.get(example.prompt);
    if (!promptIds) {
      promptIds = Array.from(inputs.input_ids.data as ArrayLike<number | bigint>, Number);
      this.promptIds.set(example.prompt, promptIds);
    }
    const answerIds = tokenizeResponse(engine.tokenizer, example.prompt, example.answer, true, engine.format).ids;
    return { row: { promptIds, answerIds }, pixels: inputs.pixel_values.data as Float32Array };
  }
}

const KINDS = COLOURS.flatMap((colour) => SHAPES.map((shape) => ({ colour, shape })));
/** The regions whose shapes the first stage counts: the whole picture and its halves (patch columns). */
const REGIONS = [
  { name: 'all', inside: () => true },
  { name: 'left', inside: (cx: number) => cx < SANDBOX_VISION_DIMS.image_size / 2 },
  { name: 'right', inside: (cx: number) => cx >= SANDBOX_VISION_DIMS.image_size / 2 },
] as const;

/** For each region, kind by kind, how many of its shapes lie there (0–3), and the background (0 white, 1 black). */
function visionTargets(scene: Scene, seed: number): { counts: number[]; background: number } {
  const placements = layout(scene, seed);
  const counts = REGIONS.flatMap((region) =>
    KINDS.map(({ colour, shape }) =>
      scene.groups.reduce((n, g, i) => n + (g.colour === colour && g.shape === shape ? placements[i].filter((p) => region.inside(p.cx)).length : 0), 0),
    ),
  );
  return { counts, background: scene.background === 'white' ? 0 : 1 };
}

/**
 * The first stage: the vision tower alone learns to see the world, before the decoder learns to speak of it. From
 * scratch, SFT alone lets the decoder learn the language first, whose easy minimum (the most common description,
 * the background read off the pixels) gives the vision tower almost no gradient: after 300 such steps a model still
 * described every scene alike. Here a temporary linear head on the tower's patch outputs, averaged over the whole
 * picture and over each half, predicts how many shapes of each colour–shape kind each region holds and the
 * background (softmax cross-entropy), so that every picture teaches the tower colours, shapes, counts and sides
 * directly. The head is thrown away; only the tower's weights go on.
 */
async function pretrainVision(model: Idefics3Model, variables: Map<string, tf.Variable>, encoder: RowEncoder, o: SandboxSmolvlmOptions, log: (line: string) => void): Promise<void> {
  const d = SANDBOX_VISION_DIMS.hidden_size;
  const grid = SANDBOX_VISION_DIMS.image_size / SANDBOX_VISION_DIMS.patch_size;
  const prng = new Prng(o.seed + 1);
  const headInit = new Prng(o.seed + 2);
  const head = tf.variable(tf.tensor2d(headInit.normals(d * REGIONS.length * KINDS.length * 4, d ** -0.5), [d, REGIONS.length * KINDS.length * 4]));
  const backgroundHead = tf.variable(tf.tensor2d(headInit.normals(d * 2, d ** -0.5), [d, 2]));
  const tower = [...variables].filter(([name]) => name.startsWith('model.vision_model.')).map(([, v]) => v);
  const trainables = [...tower, head, backgroundHead];
  const adam = new Adam(trainables);
  // Patch p of the row-major grid lies in column p mod grid: the averaging matrix of each region, [3, grid²].
  const pool = tf.tensor2d(
    REGIONS.flatMap((r) => {
      const cols = Array.from({ length: grid * grid }, (_, p): number => (r.name === 'all' || (r.name === 'left') === (p % grid < grid / 2) ? 1 : 0));
      const n = cols.reduce((a, b) => a + b, 0);
      return cols.map((c) => c / n);
    }),
    [REGIONS.length, grid * grid],
  );
  const size = SANDBOX_VISION_DIMS.image_size;
  const started = performance.now();
  let recent: number[] = [];
  for (let step = 0; step < o.visionSteps; step++) {
    const scenes = Array.from({ length: o.visionBatch }, () => ({ scene: sampleTrainingScene(prng), seed: prng.int(2 ** 32) }));
    const pixels = new Float32Array(o.visionBatch * 3 * size * size);
    const counts = new Int32Array(o.visionBatch * REGIONS.length * KINDS.length);
    const backgrounds = new Int32Array(o.visionBatch);
    for (const [b, { scene, seed }] of scenes.entries()) {
      pixels.set(await encoder.pixels(scene, seed), b * 3 * size * size);
      const t = visionTargets(scene, seed);
      counts.set(t.counts, b * t.counts.length);
      backgrounds[b] = t.background;
    }
    const pixelTensor = tf.tensor4d(pixels, [o.visionBatch, 3, size, size]);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const patches = model.vision.forward(pixelTensor); //                                      [B, grid², d]
          const pooled = tf.matMul(tf.tile(pool.expandDims(0), [o.visionBatch, 1, 1]), patches); //   [B, 3, d]
          // Region r's counts come from region r's average through its own block of the head.
          const logits = REGIONS.map((_, r) => {
            const region = pooled.slice([0, r, 0], [-1, 1, -1]).reshape([o.visionBatch, d]) as tf.Tensor2D;
            return tf.matMul(region, head.slice([0, r * KINDS.length * 4], [d, KINDS.length * 4])).reshape([o.visionBatch, 1, KINDS.length * 4]);
          }); //                                                                                       3 × [B, 1, 12·4]
          const countLogits = tf.concat(logits, 1).reshape([-1, 4]); //                                [B·3·12, 4]
          const all = pooled.slice([0, 0, 0], [-1, 1, -1]).reshape([o.visionBatch, d]) as tf.Tensor2D;
          const countLoss = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(counts, 'int32'), 4).cast('float32'), countLogits);
          const bgLoss = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(backgrounds, 'int32'), 2).cast('float32'), tf.matMul(all, backgroundHead));
          return tf.add(countLoss, bgLoss) as tf.Scalar;
        }) as tf.Scalar,
      trainables,
    );
    adam.apply(
      trainables.map((v) => grads[v.name]),
      learningRate(step, o.visionLr, Math.min(o.warmup, o.visionSteps), o.visionSteps),
    );
    const loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads), pixelTensor]);
    if (!Number.isFinite(loss)) throw new Error(`sandbox-smolvlm: the vision stage's loss is ${loss} at step ${step + 1}`);
    recent = [...recent.slice(-24), loss];
    if ((step + 1) % 25 === 0 || step === 0 || step + 1 === o.visionSteps) {
      const s = (performance.now() - started) / 1000;
      log(`vision step ${step + 1}/${o.visionSteps}  loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)}  ${s.toFixed(0)} s`);
    }
  }
  adam.dispose();
  tf.dispose([head, backgroundHead, pool]);
}

/** Trains the sandbox SmolVLM on WASM and returns its folder; its README.md is empty, for the caller to write with its figures. */
export async function trainSandboxSmolvlm(options: SandboxSmolvlmOptions): Promise<SandboxSmolvlmResult> {
  const o = options;
  const log = o.log ?? (() => undefined);
  const { backend, threads } = await startNodeBackend('wasm');
  const spec = sandboxSmolvlmSpec();
  const config = smolvlmConfig(spec);
  const shapes = idefics3Family.weightShapes(idefics3Family.parseConfig(config));
  const initial: WeightMap = new Map(Object.entries(randomTensors(shapes, o.seed, 'F32')).map(([name, t]) => [name, { shape: t.shape, data: t.data as Float32Array }]));
  const started = performance.now();
  const losses: number[] = [];
  if (o.steps === 0) return { model: smolvlmFolder(spec, config, bf16Safetensors(initial), ''), losses, seconds: 0 };

  // The engine gives the folder's tokenizer, chat template and processor, exactly as the app reads them.
  const scratch = mkdtempSync(join(tmpdir(), 'sandbox-smolvlm-'));
  const engine = await loadTfjsEngine(nodeFolderSource(await writeModel(scratch, smolvlmFolder(spec, config, bf16Safetensors(initial), ''))));
  rmSync(scratch, { recursive: true, force: true });
  const { model, variables } = loadTrainableTfjsModel(engine.config, initial);
  const trainables = [...variables.values()];
  const adam = new Adam(trainables);
  const encoder = new RowEncoder(engine);
  if (o.visionSteps > 0) await pretrainVision(model as Idefics3Model, variables, encoder, o, log);
  const examples = sftExamples({ scenes: o.steps * o.batch, seed: o.seed, noiseShare: o.noiseShare });
  const size = SANDBOX_VISION_DIMS.image_size;
  log(
    `sandbox-smolvlm: ${o.steps} steps of ${o.batch} scenes (${3 * o.batch} rows) on ${backend} (${threads ?? 1} thread), seed ${o.seed}, ` +
      `vocabulary ${spec.tokenizer.size}, ${trainables.reduce((n, v) => n + v.size, 0)} weights`,
  );
  for (let step = 0; step < o.steps; step++) {
    const batch = await Promise.all(examples.slice(step * 3 * o.batch, (step + 1) * 3 * o.batch).map((e) => encoder.encode(e)));
    const pixels = new Float32Array(batch.length * 3 * size * size);
    batch.forEach((b, i) => pixels.set(b.pixels, i * 3 * size * size));
    const pixelTensor = tf.tensor4d(pixels, [batch.length, 3, size, size]);
    const { value, grads } = tf.variableGrads(() => sftLoss(model as Idefics3Model, batch.map((b) => b.row), pixelTensor), trainables);
    adam.apply(
      trainables.map((v) => grads[v.name]),
      learningRate(step, o.lr, o.warmup, o.steps),
    );
    const loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads), pixelTensor]);
    if (!Number.isFinite(loss)) throw new Error(`sandbox-smolvlm: the loss is ${loss} at step ${step + 1}`);
    losses.push(loss);
    if ((step + 1) % 25 === 0 || step === 0 || step + 1 === o.steps) {
      const recent = losses.slice(-25);
      const s = (performance.now() - started) / 1000;
      log(`step ${step + 1}/${o.steps}  loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)}  lr ${learningRate(step, o.lr, o.warmup, o.steps).toExponential(2)}  ${s.toFixed(0)} s`);
    }
  }
  const trained = await weightMapOf(variables);
  adam.dispose();
  model.dispose();
  engine.dispose();
  const seconds = (performance.now() - started) / 1000;
  return { model: smolvlmFolder(spec, config, bf16Safetensors(trained), ''), losses, seconds };
}
