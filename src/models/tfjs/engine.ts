import * as tf from '@tensorflow/tfjs';
import type { PreTrainedTokenizer, Processor, RawImage } from '@huggingface/transformers';
import { parseModelConfig, type ModelConfig } from '../config';
import { familyOf } from '../families';
import {
  responseRoom,
  scoredResponse,
  sequenceLimit,
  type SequenceLimit,
  type GenerateRequest,
  type GenerateResult,
  type LogprobsRequest,
  type MllmEngine,
  type ResponseLogprobs,
} from '../engine';
import { imageKey } from '../imageKey';
import { openSafetensors } from '../safetensors';
import type { ModelSource, ProgressCallback } from '../sources';
import { promptText, tokenizeResponse, type ChatFormat } from '../teacherForcing';
import { loadProcessor, loadTokenizer } from '../transformersEnv';
import type { Idefics3Model } from './idefics3';
import type { LlamaModel } from './llama';
import type { LoraOptions } from './lora';
import { activeBackendLimit, checkModelFits, formatBytes, longestTrainingPair, type MemoryUse } from './memoryFit';
import type { WeightMap } from './weightReader';
import { DEFAULT_LORA, loadTfjsModel } from './weights';

/** One response of a batch, ready for the decoder: prompt ids then response ids. */
export interface EncodedResponse {
  inputIds: number[];
  responseStart: number;
  tokens: ReturnType<typeof tokenizeResponse>;
  /** Why the response was cut to fewer tokens than it has (the limit, in words), or null. */
  cut: string | null;
}

/** A prompt (with its image) encoded once and shared by every response scored against it. */
export interface EncodedPrompt {
  promptIds: number[];
  /** [1, image_seq_len, D] image features, cached per image; undefined for text-only prompts. */
  imageFeatures?: tf.Tensor3D;
}

/** Every weight of the checkpoint as float32 (BF16/F16 decode exactly), keyed by its Hugging Face name. */
export function weightMapFromSafetensors(bytes: Uint8Array, fileName: string): WeightMap {
  const file = openSafetensors(bytes, fileName);
  const weights: WeightMap = new Map();
  for (const name of file.entries.keys()) {
    const tensor = file.read(name);
    if (!(tensor.data instanceof Float32Array)) continue;
    weights.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return weights;
}

export { imageKey };

/** A float32 tensor bigger than this is never requested when the backend names no limit of its own (CPU, WebGL). */
const DEFAULT_BUFFER_BYTES = 2 ** 30;

/** The largest tensor the active backend allocates in one piece: WebGPU's buffer limits, else DEFAULT_BUFFER_BYTES. */
function largestBufferBytes(): number {
  const limits = (tf.backend() as { device?: { limits?: { maxStorageBufferBindingSize?: number; maxBufferSize?: number } } }).device?.limits;
  const binding = limits?.maxStorageBufferBindingSize;
  const buffer = limits?.maxBufferSize;
  return binding && buffer ? Math.min(binding, buffer) : DEFAULT_BUFFER_BYTES;
}

function idsOf(tensorLike: { data: ArrayLike<number | bigint> }): number[] {
  return Array.from(tensorLike.data, (v) => Number(v));
}

export class TfjsEngine implements MllmEngine {
  readonly kind = 'tfjs' as const;
  private readonly featureCache = new Map<string, tf.Tensor3D>();

  constructor(
    readonly config: ModelConfig,
    readonly model: Idefics3Model | LlamaModel,
    readonly tokenizer: PreTrainedTokenizer,
    readonly processor: Processor | null,
    readonly format: ChatFormat,
    readonly label: string,
  ) {}

  /** Whether prompts may carry an image (the model's family is multimodal). */
  get multimodal(): boolean {
    return familyOf(this.config).multimodal;
  }

  get contextLength(): number {
    return this.config.text.maxPositionEmbeddings;
  }

  /** How many tokens (prompt and response) a forward over `batch` sequences may hold on the active backend. */
  sequenceLimit(batch: number): SequenceLimit {
    return sequenceLimit(this.config.text, batch, largestBufferBytes(), tf.getBackend());
  }

  /**
   * How many tokens (prompt and response) each sequence of a chosen/rejected pair may hold in a LoRA training step
   * on the active backend: the forward's {@link sequenceLimit} for two, or fewer where the step's working set
   * (memoryFit.ts's estimate, every token counted as response) would outgrow what the backend holds in all — on wasm
   * the 4 GiB heap, which a step cannot outgrow without aborting the process.
   */
  trainingPairLimit(): SequenceLimit {
    const forward = this.sequenceLimit(2);
    const memory = activeBackendLimit();
    const longest = longestTrainingPair(this.config, memory, (tokens) => tokens);
    if (longest === null || longest >= forward.tokens) return forward;
    return {
      tokens: longest,
      name: `the longest sequence of a pair whose LoRA training step fits the ${memory.backend} backend's memory (${memory.source}: ${formatBytes(memory.totalBytes!)})`,
    };
  }

  /** Encodes the templated prompt; with an image, runs the image processor and the frozen vision tower once per image. */
  async encodePrompt(prompt: string, image?: RawImage): Promise<EncodedPrompt> {
    if (image && !this.multimodal) throw new Error('This model reads text only; remove the image or load a multimodal model.');
    const text = promptText(this.tokenizer, prompt, !!image, this.format);
    if (!image) return { promptIds: this.tokenizer.encode(text) };
    const inputs = await this.processor!(text, image);
    const promptIds = idsOf(inputs.input_ids);
    const key = imageKey(image);
    let features = this.featureCache.get(key);
    if (!features) {
      const [, n, c, h, w] = inputs.pixel_values.dims as number[];
      const pixels = tf.tensor4d(inputs.pixel_values.data as Float32Array, [n, c, h, w]);
      const perTile = (this.model as Idefics3Model).visionFeatures(pixels);
      pixels.dispose();
      // Tiles of one image sit one after another in the prompt, so they become one row of features.
      features = tf.tidy(() => perTile.reshape([1, -1, perTile.shape[2]]) as tf.Tensor3D);
      perTile.dispose();
      this.featureCache.set(key, features);
    }
    return { promptIds, imageFeatures: features };
  }

  /**
   * The response's ids after the prompt's, cut (before any per-token work) to what `limit` leaves after the prompt;
   * `limit` defaults to one sequence's {@link sequenceLimit}.
   */
  encodeResponse(encoded: EncodedPrompt, prompt: string, response: string, limit = this.sequenceLimit(1)): EncodedResponse {
    const promptLength = encoded.promptIds.length;
    const room = responseRoom(this.label, promptLength, limit.tokens, limit.name);
    const tokens = tokenizeResponse(this.tokenizer, prompt, response, encoded.imageFeatures !== undefined, this.format, room);
    const cut = tokens.ids.length < tokens.fullLength ? `${limit.name} is ${limit.tokens} tokens and the prompt takes ${promptLength}` : null;
    return { inputIds: [...encoded.promptIds, ...tokens.ids], responseStart: promptLength, tokens, cut };
  }

  /**
   * Per-token log-probs `ℓ_t = log π(y_t | I, q, y_<t)` of each response's tokens (end-of-turn token included) as
   * a `[B, W]` tensor, row b holding `responses[b].ids.length` values then 0 (W = the longest response).
   * Differentiable in the LoRA variables: the training step calls it inside its gradient function. Cheap where
   * training needs it: the LM head runs only at response positions, and the target logit is picked with a one-hot
   * product — a `gather` over the flattened logits has an UnsortedSegmentSum gradient that cost ~2.5 s of a
   * 2.6 s step on the CPU backend.
   */
  responseLogprobs(encoded: EncodedPrompt, responses: { ids: number[] }[], adapters: boolean): tf.Tensor2D {
    const promptLen = encoded.promptIds.length;
    if (promptLen < 1) throw new Error('the prompt has no tokens');
    const width = Math.max(...responses.map((r) => r.ids.length));
    if (!(width >= 1)) throw new Error('every response needs at least one token');
    const inputIds = responses.map((r) => [...encoded.promptIds, ...r.ids, ...new Array<number>(width - r.ids.length).fill(0)]);
    const attentionMask = responses.map((r) =>
      new Array<number>(promptLen + r.ids.length).fill(1).concat(new Array<number>(width - r.ids.length).fill(0)),
    );
    const targets = new Int32Array(responses.length * width);
    const mask = new Float32Array(responses.length * width);
    responses.forEach((r, b) =>
      r.ids.forEach((id, k) => {
        targets[b * width + k] = id;
        mask[b * width + k] = 1;
      }),
    );
    const text: LlamaModel = this.multimodal ? (this.model as Idefics3Model).text : (this.model as LlamaModel);
    return tf.tidy(() => {
      const features = encoded.imageFeatures ? (tf.tile(encoded.imageFeatures, [responses.length, 1, 1]) as tf.Tensor3D) : undefined;
      const embeds = this.multimodal ? (this.model as Idefics3Model).embedInputs(inputIds, features) : text.embed(inputIds);
      const hidden = text.hidden(embeds, { attentionMask, lora: adapters });
      // The hidden state at position p predicts token p + 1: response token k is predicted at promptLen − 1 + k.
      const atResponse = tf.slice(hidden, [0, promptLen - 1, 0], [responses.length, width, hidden.shape[2]]) as tf.Tensor3D;
      const logits = text.logits(atResponse);
      const vocab = logits.shape[2];
      const flat = logits.reshape([responses.length * width, vocab]);
      // Cast, not oneHot's dtype argument: the WASM backend (4.22) writes the integer 1's bits into a float32
      // one-hot (1.4e-45), which picks ~0 instead of the logit.
      const oneHot = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), vocab), 'float32');
      const picked = tf.sum(tf.mul(flat, oneHot), -1);
      const logp = tf.sub(picked, tf.logSumExp(flat, -1));
      return tf.mul(logp, tf.tensor1d(mask)).reshape([responses.length, width]) as tf.Tensor2D;
    });
  }

  async logprobs(request: LogprobsRequest): Promise<ResponseLogprobs[]> {
    if (request.responses.length === 0) return [];
    const encoded = await this.encodePrompt(request.prompt, request.image);
    const limit = this.sequenceLimit(request.responses.length);
    const batch = request.responses.map((r) => this.encodeResponse(encoded, request.prompt, r, limit));
    const logps = this.responseLogprobs(encoded, batch.map((b) => b.tokens), request.adapters ?? true);
    const values = (await logps.data()) as Float32Array;
    const width = logps.shape[1];
    logps.dispose();
    return batch.map((b, row) => ({
      ...scoredResponse(this.label, b.inputIds, b.responseStart, b.tokens, (k) => values[row * width + k]),
      cut: b.cut,
    }));
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const encoded = await this.encodePrompt(request.prompt, request.image);
    const limit = this.sequenceLimit(1);
    const room = responseRoom(this.label, encoded.promptIds.length, limit.tokens, limit.name);
    const options = {
      // Generation stops at the window as it stops at maxNewTokens ('length').
      maxNewTokens: Math.min(request.maxNewTokens, room),
      eosTokenId: this.format.endOfTurnId,
      temperature: request.greedy === false ? (request.temperature ?? 1) : 0,
      topP: request.topP,
      seed: request.seed,
      lora: request.adapters ?? true,
      signal: request.signal,
      onToken: request.onToken
        ? (id: number) => request.onToken!({ id, text: this.tokenizer.decode([id], { skip_special_tokens: false }) })
        : undefined,
    };
    const result = this.multimodal
      ? await (this.model as Idefics3Model).generate({ ...options, inputIds: encoded.promptIds, imageFeatures: encoded.imageFeatures })
      : await (this.model as LlamaModel).generate(encoded.promptIds, options);
    const ids = result.ids;
    // transformers.js refuses to decode an empty list (maxNewTokens 0, or an immediate stop).
    const text = ids.length ? this.tokenizer.decode(ids, { skip_special_tokens: true }) : '';
    return { ids, text, stop: result.stop };
  }

  dispose(): void {
    for (const features of this.featureCache.values()) features.dispose();
    this.featureCache.clear();
    this.model.dispose();
  }
}

export interface LoadTfjsEngineOptions {
  lora?: LoraOptions;
  onProgress?: ProgressCallback;
  /** What the model must fit the backend for (memoryFit.ts); default training, the TF.js engine's reason to be. */
  use?: MemoryUse;
}

/**
 * Config, weights, tokenizer and processor, all read from one model source. A model that does not fit the active
 * backend (memoryFit.ts) is refused from its config.json, before the weights are downloaded or read.
 */
export async function loadTfjsEngine(source: ModelSource, options: LoadTfjsEngineOptions = {}): Promise<TfjsEngine> {
  const config = parseModelConfig(await source.getJson('config.json', options.onProgress));
  checkModelFits(source.label, config, options.use ?? 'training', activeBackendLimit());
  const bytes = await source.getFile('model.safetensors', options.onProgress);
  const weights = weightMapFromSafetensors(bytes, `${source.label}/model.safetensors`);
  const lora = options.lora ?? DEFAULT_LORA;
  const family = familyOf(config);
  const processor = family.multimodal ? await loadProcessor(source) : null;
  const tokenizer = processor ? (processor.tokenizer as PreTrainedTokenizer) : await loadTokenizer(source);
  if (tokenizer.eos_token_id === undefined || tokenizer.eos_token_id === null) {
    throw new Error(`${source.label}: tokenizer_config.json names no eos_token, so the end of an answer is unknown.`);
  }
  const model = loadTfjsModel(config, weights, lora);
  return new TfjsEngine(config, model, tokenizer, processor, family.chatFormat(tokenizer.eos_token_id), source.label);
}
