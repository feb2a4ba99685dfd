/**
 * The ONNX MLLM engine: the same {@link MllmEngine} as the TF.js engine, run by transformers.js (v4) on
 * ONNX Runtime — WebGPU or WebAssembly in the browser, the CPU in Node. Inference only (no LoRA): fast
 * scoring and generation for the Inspector and for building data.
 *
 * The ids are the TF.js engine's: the prompt through the processor (image tokens expanded), the response
 * tokenized on its own and appended (teacherForcing.ts, as TRL does). `logprobs` runs one teacher-forced
 * forward over all responses (right-padded, with an attention mask), takes the full `logits`, and gathers
 * log-softmax at each response token; every `present.*` output of the decoder is disposed. `generate`
 * runs the decoder step by step through its key/value cache, greedy or with the TF.js engine's seeded
 * temperature/top-p sampler, streaming each token.
 */
import {
  AutoModelForCausalLM,
  AutoModelForVision2Seq,
  AutoProcessor,
  AutoTokenizer,
  Tensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Processor,
  type RawImage,
} from '@huggingface/transformers';
import { parseModelConfig } from '../config';
import { MLLM_FAMILIES } from '../families';
import type { MllmFamily, TransformersModelClass } from '../families/types';
import { responseRoom, scoredResponse, sequenceLimit, type GenerateRequest, type GenerateResult, type LogprobsRequest, type MllmEngine, type ResponseLogprobs } from '../engine';
import { imageKey } from '../imageKey';
import { loadFiles, type ModelSource, type TotalProgress } from '../sources';
import { promptText, tokenizeResponse, type ChatFormat, type ResponseTokens } from '../teacherForcing';
import { Prng } from '../prng';
import { argmax, sample } from '../sampling';
import { checkOnnxFile, withSource } from '../transformersEnv';
import { onnxSessionFiles, type OnnxDtypeOption } from './dtypes';

export { ONNX_DTYPE_SUFFIX, onnxSessionFiles, type OnnxDtype, type OnnxDtypeOption } from './dtypes';
export type OnnxDevice = 'webgpu' | 'wasm' | 'cpu';

export interface LoadOnnxEngineOptions {
  /**
   * Default `'fp32'`: the un-suffixed `onnx/*.onnx` files. Hub checkpoints pass their quantized variant, e.g.
   * `{ vision_encoder: 'q4', embed_tokens: 'q4', decoder_model_merged: 'q4' }`; our own SmolVLM exports ship the
   * same q8 and q4 files beside fp32 (scripts/onnx/idefics3.ts).
   */
  dtype?: OnnxDtypeOption;
  /** Default: `'cpu'` in Node; in the browser `'webgpu'` where the browser offers it, else `'wasm'`. */
  device?: OnnxDevice;
  /** Progress of every file of the model, per file and in total. */
  onProgress?: (p: TotalProgress) => void;
}

/** The transformers.js class of each name a family's record gives. */
const MODEL_CLASSES: Record<TransformersModelClass, typeof AutoModelForCausalLM | typeof AutoModelForVision2Seq> = {
  AutoModelForVision2Seq,
  AutoModelForCausalLM,
};

/** The family whose ONNX export config.json's `model_type` names, if the ONNX engine loads it. */
function onnxFamily(modelType: unknown): MllmFamily | undefined {
  return MLLM_FAMILIES.find((f) => typeof modelType === 'string' && f.onnx.modelTypes.includes(modelType));
}

/** The files under `onnx/` that transformers.js will read for this architecture and dtype. */
export function onnxFileNames(modelType: string, dtype: OnnxDtypeOption = 'fp32'): string[] {
  const family = onnxFamily(modelType);
  if (!family) throw new Error(`unsupported model type ${modelType}`);
  return onnxSessionFiles(family.onnx.sessions, dtype);
}

type Outputs = Record<string, Tensor>;

function int64(rows: number[][]): Tensor {
  const B = rows.length;
  const L = rows[0]?.length ?? 0;
  const data = new BigInt64Array(B * L);
  rows.forEach((r, b) => r.forEach((v, t) => (data[b * L + t] = BigInt(v))));
  return new Tensor('int64', data, [B, L]);
}

/** Hugging Face's position ids: cumsum(mask) − 1, with masked positions set to 1. */
function positionIds(mask: number[][], offset = 0): number[][] {
  return mask.map((row) => {
    let seen = offset;
    return row.map((m) => {
      const p = m === 0 ? 1 : seen;
      seen += m;
      return p;
    });
  });
}

function disposeAll(tensors: Iterable<Tensor | undefined | null>): void {
  for (const t of tensors) t?.dispose();
}

/** log-softmax of `row` (float64) at index `id`. */
function logSoftmaxAt(logits: Float32Array, offset: number, V: number, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[offset + v] - max);
  return logits[offset + id] - max - Math.log(sum);
}

interface EncodedPrompt {
  promptIds: number[];
  /** [num_images · image_seq_len, D] image features, cached per image. */
  imageFeatures?: Tensor;
}

export class OnnxEngine implements MllmEngine {
  readonly kind = 'onnx' as const;
  private readonly featureCache = new Map<string, Tensor>();
  private disposed = false;

  constructor(
    readonly family: MllmFamily,
    /** The sessions; replaced by {@link run} after a failed run. */
    public model: PreTrainedModel,
    readonly tokenizer: PreTrainedTokenizer,
    readonly processor: Processor | null,
    readonly format: ChatFormat,
    /** The device the sessions run on. */
    readonly device: OnnxDevice,
    /** Why the requested device was not used (e.g. WebGPU missing or failing), or null. */
    readonly fallbackReason: string | null,
    readonly imageTokenId: number | null,
    readonly label: string,
    /** The language model's sizes that bound a sequence (config.json). */
    private readonly text: { maxPositionEmbeddings: number; numHeads: number; vocabSize: number },
    /** Builds the sessions again from the model's files. */
    private readonly createModel: () => Promise<PreTrainedModel>,
  ) {}

  /**
   * Runs the sessions. A run that fails can leave ONNX Runtime's sessions unusable for every later call (seen after
   * an out-of-memory failure), so they are released and built again from the same files before the error goes on.
   */
  private async run<T>(fn: (model: PreTrainedModel) => Promise<T>): Promise<T> {
    try {
      return await fn(this.model);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await this.model.dispose().catch(() => undefined);
      try {
        this.model = await this.createModel();
      } catch (e2) {
        this.disposed = true;
        throw new Error(`${this.label}: ONNX Runtime failed (${message}) and the model could not be loaded again (${e2 instanceof Error ? e2.message : String(e2)}); load it again.`, { cause: e });
      }
      throw new Error(`${this.label}: ONNX Runtime failed (${message}); the model's sessions were rebuilt, so the next call starts afresh.`, { cause: e });
    }
  }

  get contextLength(): number {
    return this.text.maxPositionEmbeddings;
  }

  /** The tokens a response may have after `promptLength` prompt tokens in a forward over `batch` (checked before any run). */
  private room(promptLength: number, batch: number): { room: number; cut: string } {
    // The full logits of every position come back, so they bound the sequence before the attention does.
    const limit = sequenceLimit(this.text, batch, ONNX_BUFFER_BYTES, `ONNX Runtime (${this.device})`);
    const room = responseRoom(this.label, promptLength, limit.tokens, limit.name);
    return { room, cut: `${limit.name} is ${limit.tokens} tokens and the prompt takes ${promptLength}` };
  }

  private get isMultimodal(): boolean {
    return this.family.multimodal;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('This ONNX engine was disposed; load the model again.');
  }

  private async encodePrompt(prompt: string, image?: RawImage): Promise<EncodedPrompt> {
    if (image && !this.isMultimodal) throw new Error('This model reads text only; remove the image or load a multimodal model.');
    const text = promptText(this.tokenizer, prompt, !!image, this.format);
    if (!image) return { promptIds: this.tokenizer.encode(text) };
    const inputs = await this.processor!(text, image);
    const promptIds = Array.from(inputs.input_ids.data as BigInt64Array, Number);
    const key = imageKey(image);
    let features = this.featureCache.get(key);
    if (!features) {
      const out = (await this.run((model) =>
        model.encode_image({ pixel_values: inputs.pixel_values, pixel_attention_mask: inputs.pixel_attention_mask }),
      )) as Tensor;
      const D = out.dims[out.dims.length - 1];
      // Tiles of one image sit one after another in the prompt: their features become one list of rows.
      features = new Tensor('float32', (out.data as Float32Array).slice(), [out.data.length / D, D]);
      out.dispose();
      this.featureCache.set(key, features);
    }
    disposeAll([inputs.pixel_values, inputs.pixel_attention_mask, inputs.input_ids, inputs.attention_mask]);
    return { promptIds, imageFeatures: features };
  }

  /**
   * One decoder forward: ids [B, L] with their mask, image features scattered at the image tokens of every row,
   * an optional key/value cache. Returns the outputs (logits and present.*); the caller disposes them.
   */
  private async forward(ids: number[][], mask: number[][], imageFeatures?: Tensor, past?: Outputs, pastLength = 0): Promise<Outputs> {
    const attention = int64(past ? mask.map((m) => [...Array<number>(pastLength).fill(1), ...m]) : mask);
    const positions = int64(positionIds(mask, pastLength));
    const inputIds = int64(ids);
    const feeds: Record<string, unknown> = { attention_mask: attention, position_ids: positions };
    if (past) feeds.past_key_values = past;
    let embeds: Tensor | null = null;
    try {
      if (this.isMultimodal) {
        embeds = (await this.run((model) => model.encode_text({ input_ids: inputIds }))) as Tensor;
        if (imageFeatures) this.scatterImageFeatures(embeds, ids, imageFeatures);
        feeds.inputs_embeds = embeds;
      } else {
        feeds.input_ids = inputIds;
      }
      return (await this.run((model) => model.forward(feeds))) as Outputs;
    } finally {
      disposeAll([attention, positions, inputIds, embeds]);
    }
  }

  /** Writes the image features over the embeddings of the image tokens, row by row, in order (what transformers.js' merge does). */
  private scatterImageFeatures(embeds: Tensor, ids: number[][], features: Tensor): void {
    const [B, L, D] = embeds.dims;
    const data = embeds.data as Float32Array;
    const feats = features.data as Float32Array;
    const rows = features.dims[0];
    for (let b = 0; b < B; b++) {
      let k = 0;
      for (let t = 0; t < L; t++) {
        if (ids[b][t] !== this.imageTokenId) continue;
        if (k >= rows) throw new Error(`the prompt holds more image tokens than the image has features (${rows})`);
        data.set(feats.subarray(k * D, (k + 1) * D), (b * L + t) * D);
        k++;
      }
      if (k !== 0 && k !== rows) throw new Error(`the prompt holds ${k} image tokens but the image has ${rows} features`);
    }
  }

  async logprobs(request: LogprobsRequest): Promise<ResponseLogprobs[]> {
    this.checkAlive();
    if (request.responses.length === 0) return [];
    const encoded = await this.encodePrompt(request.prompt, request.image);
    const withImage = encoded.imageFeatures !== undefined;
    const { room, cut } = this.room(encoded.promptIds.length, request.responses.length);
    const batch: { inputIds: number[]; tokens: ResponseTokens }[] = request.responses.map((r) => {
      const tokens = tokenizeResponse(this.tokenizer, request.prompt, r, withImage, this.format, room);
      return { inputIds: [...encoded.promptIds, ...tokens.ids], tokens };
    });
    const L = Math.max(...batch.map((b) => b.inputIds.length));
    const pad = this.tokenizer.pad_token_id ?? 0;
    const ids = batch.map((b) => [...b.inputIds, ...Array<number>(L - b.inputIds.length).fill(pad)]);
    const mask = batch.map((b) => [...b.inputIds.map(() => 1), ...Array<number>(L - b.inputIds.length).fill(0)]);
    const outputs = await this.forward(ids, mask, encoded.imageFeatures);
    try {
      const logits = outputs.logits;
      const V = logits.dims[2];
      const data = logits.data as Float32Array;
      const start = encoded.promptIds.length;
      // logits at position p − 1 predict the token at p.
      return batch.map((b, row) => ({
        ...scoredResponse(this.label, b.inputIds, start, b.tokens, (k) => logSoftmaxAt(data, (row * L + start + k - 1) * V, V, b.tokens.ids[k])),
        cut: b.tokens.ids.length < b.tokens.fullLength ? cut : null,
      }));
    } finally {
      disposeAll(Object.values(outputs));
    }
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    this.checkAlive();
    const encoded = await this.encodePrompt(request.prompt, request.image);
    const temperature = request.greedy === false ? (request.temperature ?? 1) : 0;
    const topP = request.topP ?? 1;
    const prng = new Prng(request.seed ?? 0);
    const eos = this.format.endOfTurnId;
    const ids: number[] = [];
    const finish = (stop: GenerateResult['stop']): GenerateResult => ({
      ids,
      // (transformers.js refuses to decode an empty list)
      text: ids.length === 0 ? '' : this.tokenizer.decode(ids, { skip_special_tokens: true }),
      stop,
    });
    // Generation stops at the window as it stops at maxNewTokens ('length').
    const maxNewTokens = Math.min(request.maxNewTokens, this.room(encoded.promptIds.length, 1).room);
    if (maxNewTokens <= 0) return finish('length');
    if (request.signal?.aborted) return finish('aborted');

    let outputs = await this.forward([encoded.promptIds], [encoded.promptIds.map(() => 1)], encoded.imageFeatures);
    let length = encoded.promptIds.length;
    let stop: GenerateResult['stop'] = 'length';
    try {
      for (let i = 0; i < maxNewTokens; i++) {
        const logits = outputs.logits;
        const V = logits.dims[2];
        const T = logits.dims[1];
        const last = (logits.data as Float32Array).subarray((T - 1) * V, T * V);
        const next = temperature > 0 ? sample(last, temperature, topP, prng) : argmax(last);
        ids.push(next);
        request.onToken?.({ id: next, text: this.tokenizer.decode([next], { skip_special_tokens: false }) });
        if (next === eos) {
          stop = 'eos';
          break;
        }
        if (i === maxNewTokens - 1) break;
        if (request.signal?.aborted) {
          stop = 'aborted';
          break;
        }
        const past: Outputs = {};
        for (const [name, t] of Object.entries(outputs)) {
          if (name.startsWith('present')) past[name.replace('present', 'past_key_values')] = t;
        }
        logits.dispose();
        const previous = outputs;
        try {
          outputs = await this.forward([[next]], [[1]], undefined, past, length);
        } finally {
          disposeAll(Object.entries(previous).filter(([n]) => n !== 'logits').map(([, t]) => t));
        }
        length += 1;
        // Let the page breathe (and an abort land) between tokens.
        await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      disposeAll(Object.values(outputs));
    }
    return finish(stop);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll(this.featureCache.values());
    this.featureCache.clear();
    void this.model.dispose();
  }
}

/**
 * The largest tensor asked of ONNX Runtime in one piece: WebAssembly's memory is 4 GiB in all, the weights included,
 * and a WebGPU device's buffers are often smaller.
 */
const ONNX_BUFFER_BYTES = 2 ** 30;

function webgpuAvailable(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && !!(navigator as { gpu?: unknown }).gpu;
}

const IS_NODE = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined';

/** The default device: the CPU in Node; in the browser WebGPU where it exists, else WASM. */
export function defaultOnnxDevice(): OnnxDevice {
  return IS_NODE ? 'cpu' : webgpuAvailable() ? 'webgpu' : 'wasm';
}

/**
 * Runs `create` on the requested device; WebGPU that the browser lacks, or that fails to create the sessions,
 * falls back to WASM, and the reason is returned in words. Failures on any other device go through `describe`.
 */
export async function withDeviceFallback<T>(
  requested: OnnxDevice | undefined,
  create: (device: OnnxDevice) => Promise<T>,
  describe: (e: unknown) => Error,
): Promise<{ value: T; device: OnnxDevice; fallbackReason: string | null }> {
  let device = requested ?? defaultOnnxDevice();
  let fallbackReason: string | null = null;
  if (device === 'webgpu' && !IS_NODE) {
    if (!webgpuAvailable()) {
      fallbackReason = 'This browser offers no WebGPU (navigator.gpu is missing), so the model runs on WebAssembly (slower).';
      device = 'wasm';
    } else {
      let adapter: unknown = null;
      try {
        adapter = await (navigator as unknown as { gpu: { requestAdapter(): Promise<unknown> } }).gpu.requestAdapter();
      } catch {
        adapter = null;
      }
      if (!adapter) {
        fallbackReason = 'WebGPU is present but found no usable graphics adapter (disabled or blocklisted), so the model runs on WebAssembly (slower).';
        device = 'wasm';
      }
    }
  }
  try {
    return { value: await create(device), device, fallbackReason };
  } catch (e) {
    if (device !== 'webgpu') throw describe(e);
    fallbackReason = `WebGPU could not run this model (${e instanceof Error ? e.message : String(e)}), so it runs on WebAssembly (slower).`;
    try {
      return { value: await create('wasm'), device: 'wasm', fallbackReason };
    } catch (e2) {
      throw describe(e2);
    }
  }
}

/**
 * Loads an Idefics3/SmolVLM (or Llama/SmolLM2) ONNX export from a model source through transformers.js.
 * Every file is read through the source first (one progress report; a missing or truncated file is named),
 * then transformers.js builds its sessions from those bytes. WebGPU that is missing or fails to start falls
 * back to WASM, and `engine.fallbackReason` says why.
 */
export async function loadOnnxEngine(source: ModelSource, options: LoadOnnxEngineOptions = {}): Promise<OnnxEngine> {
  const dtype = options.dtype ?? 'fp32';
  const config = await source.getJson<{ model_type?: string; image_token_id?: number; image_token_index?: number }>('config.json');
  const family = onnxFamily(config.model_type);
  if (!family) {
    const supported = MLLM_FAMILIES.flatMap((f) => f.onnx.modelTypes.map((t) => `${t} — ${f.name}`)).join(', ');
    throw new Error(`${source.label}: model type "${config.model_type ?? 'unknown'}" is not supported by the ONNX engine (supported: ${supported}).`);
  }
  const text = parseModelConfig(config).text;
  const onnxFiles = onnxSessionFiles(family.onnx.sessions, dtype);
  const files = await loadFiles(source, onnxFiles, options.onProgress);
  for (const f of onnxFiles) checkOnnxFile(files[f]!, f, source.label);

  const Auto = MODEL_CLASSES[family.onnx.modelClass];
  const create = (d: OnnxDevice, preloaded: typeof files) =>
    withSource(source, (key) => Auto.from_pretrained(key, { dtype, device: d } as Parameters<typeof Auto.from_pretrained>[1]), { preloaded });
  const { value: model, device, fallbackReason } = await withDeviceFallback(
    options.device,
    (d) => create(d, files),
    (e) => describeLoadError(e, source, onnxFiles),
  );
  // Read again when needed rather than kept: the files are as large as the model.
  const recreate = async () => create(device, await loadFiles(source, onnxFiles));
  try {
    const processor =
      family.multimodal ? await withSource(source, (key) => AutoProcessor.from_pretrained(key)) : null;
    const tokenizer = processor
      ? (processor.tokenizer as PreTrainedTokenizer)
      : await withSource(source, (key) => AutoTokenizer.from_pretrained(key));
    if (tokenizer.eos_token_id === undefined || tokenizer.eos_token_id === null) {
      throw new Error(`${source.label}: tokenizer_config.json names no eos_token, so the end of an answer is unknown.`);
    }
    const format = family.chatFormat(tokenizer.eos_token_id);
    const imageTokenId = config.image_token_id ?? config.image_token_index ?? null;
    if (family.multimodal && imageTokenId === null) throw new Error(`${source.label}: config.json names no image_token_id.`);
    return new OnnxEngine(family, model, tokenizer, processor, format, device, fallbackReason, imageTokenId, source.label, text, recreate);
  } catch (e) {
    void model.dispose();
    throw e;
  }
}

/** An ONNX Runtime failure to create sessions, naming the model and its files. */
export function describeLoadError(e: unknown, source: ModelSource, files: string[]): Error {
  const message = e instanceof Error ? e.message : String(e);
  return new Error(`${source.label}: ONNX Runtime could not load the model (${files.join(', ')}): ${message}`, { cause: e });
}
