/**
 * The CLIP scorer: `S_i` of every sentence of a response against the image (the cosine is computed by
 * `clipSimilarity` in src/aspo/similarity.ts), with a CLIP exported to ONNX in transformers.js' layout
 * (`onnx/text_model.onnx`, `onnx/vision_model.onnx`; default `Xenova/clip-vit-base-patch32`, q8).
 *
 * - All sentences not yet seen go through the text tower in ONE batch (right-padded with the pad token;
 *   CLIP pools at the end-of-text token, so padding after it changes nothing), in batches of at most
 *   TEXT_BATCH sentences for a very long response, so that memory stays bounded.
 * - A sentence longer than CLIP's text window (`model_max_length`, at most `max_position_embeddings`) keeps
 *   its first tokens and its end-of-text token, and is flagged `truncated` (`clipCutNotice` says so in words).
 * - A failed run rebuilds both sessions from the model's files before the error goes on, so the next call works.
 * - Results are cached by (model, image hash, sentence text); text and image embeddings are cached too, so a
 *   new image re-uses the sentences' embeddings and a new sentence re-uses the image's.
 */
import {
  AutoImageProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  Tensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type RawImage,
} from '@huggingface/transformers';
import { clipSimilarity } from '../aspo/similarity';
import { imageKey } from './imageKey';
import { clipFamily } from './families';
import {
  describeLoadError,
  onnxSessionFiles,
  withDeviceFallback,
  type OnnxDevice,
  type OnnxDtype,
} from './onnx/engine';
import { loadFiles, type ModelSource, type TotalProgress } from './sources';
import { checkOnnxFile, withSource } from './transformersEnv';

export interface SentenceSimilarity {
  /** `S_i`: cosine of the L2-normalised text and image embeddings, in [−1, 1]. */
  similarity: number;
  /** The sentence was longer than CLIP's text window and only its beginning was scored. */
  truncated: boolean;
}

export interface ClipTextIds {
  ids: number[];
  truncated: boolean;
}

export interface ClipScorer {
  /** The model's name (source label), part of every cache key. */
  readonly label: string;
  readonly device: OnnxDevice;
  /** Why the requested device was not used, or null. */
  readonly fallbackReason: string | null;
  /** Tokens CLIP reads per sentence, start and end tokens included. */
  readonly contextLength: number;
  /** Model runs so far (each text run is one batch). */
  readonly calls: { readonly text: number; readonly image: number };
  similarity(image: RawImage, sentences: string[]): Promise<SentenceSimilarity[]>;
  /** The ids the text tower reads for `sentence` (after truncation). */
  textIds(sentence: string): ClipTextIds;
  dispose(): void;
}

export interface LoadClipScorerOptions {
  /** Default `'fp32'` (the bundled tiny CLIP); the hub default `Xenova/clip-vit-base-patch32` is used with `'q8'`. */
  dtype?: OnnxDtype;
  device?: OnnxDevice;
  onProgress?: (p: TotalProgress) => void;
}

export const CLIP_ONNX_FILES = (dtype: OnnxDtype = 'fp32') => onnxSessionFiles(clipFamily.onnx.sessions, dtype);

interface ClipConfigJson {
  model_type?: string;
  text_config?: { max_position_embeddings?: number; eos_token_id?: number };
}

type ImageProcessor = (image: RawImage) => Promise<{ pixel_values: Tensor }>;

interface ClipModels {
  text: PreTrainedModel;
  vision: PreTrainedModel;
}

/** Sentences per text-tower run: a whole response of ordinary length, and a bound for a very long one. */
export const TEXT_BATCH = 64;

/** The sentences of a response that CLIP saw only in part, in words (`which` names the response), or null. */
export function clipCutNotice(which: string, results: SentenceSimilarity[], contextLength: number): string | null {
  const cut = results.flatMap((r, i) => (r.truncated ? [i + 1] : []));
  if (cut.length === 0) return null;
  const list = cut.length > 10 ? `${cut.slice(0, 10).join(', ')} and ${cut.length - 10} more` : cut.join(', ');
  return `${which}: sentence${cut.length > 1 ? 's' : ''} ${list} ${cut.length > 1 ? 'are' : 'is'} longer than CLIP's text window of ${contextLength} tokens; only the beginning was compared with the image.`;
}

class OnnxClipScorer implements ClipScorer {
  readonly calls = { text: 0, image: 0 };
  private readonly results = new Map<string, SentenceSimilarity>();
  private readonly textEmbeds = new Map<string, Float32Array>();
  private readonly imageEmbeds = new Map<string, Float32Array>();
  private readonly bos: number | null;
  private readonly eos: number;
  private readonly pad: number;

  private textModel: PreTrainedModel;
  private visionModel: PreTrainedModel;

  constructor(
    readonly label: string,
    models: ClipModels,
    /** Builds both sessions again from the model's files. */
    private readonly createModels: () => Promise<ClipModels>,
    readonly tokenizer: PreTrainedTokenizer,
    private readonly imageProcessor: ImageProcessor,
    readonly contextLength: number,
    readonly device: OnnxDevice,
    readonly fallbackReason: string | null,
  ) {
    const eos = tokenizer.eos_token_id;
    if (eos === undefined || eos === null) throw new Error(`${label}: the tokenizer names no end-of-text token.`);
    this.eos = eos;
    this.bos = tokenizer.bos_token_id ?? null;
    this.pad = tokenizer.pad_token_id ?? eos;
    this.textModel = models.text;
    this.visionModel = models.vision;
  }

  /**
   * Runs a tower. A failed run can leave ONNX Runtime's sessions unusable for every later call, so both are released
   * and built again before the error goes on.
   */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await Promise.all([this.textModel.dispose(), this.visionModel.dispose()]).catch(() => undefined);
      const models = await this.createModels().catch((e2: unknown) => {
        throw new Error(`${this.label}: CLIP failed (${message}) and could not be loaded again (${e2 instanceof Error ? e2.message : String(e2)}); load it again.`, {
          cause: e,
        });
      });
      this.textModel = models.text;
      this.visionModel = models.vision;
      throw new Error(`${this.label}: CLIP failed (${message}); its sessions were rebuilt, so the next call starts afresh.`, { cause: e });
    }
  }

  textIds(sentence: string): ClipTextIds {
    // CLIP's own tokenizer strips the text; a sentence span may carry the space that follows it.
    let ids = this.tokenizer.encode(sentence.trim()) as number[];
    if (this.bos !== null && ids[0] !== this.bos) ids = [this.bos, ...ids];
    if (ids[ids.length - 1] !== this.eos) ids = [...ids, this.eos];
    if (ids.length <= this.contextLength) return { ids, truncated: false };
    return { ids: [...ids.slice(0, this.contextLength - 1), this.eos], truncated: true };
  }

  private async imageEmbedding(image: RawImage, key: string): Promise<Float32Array> {
    const hit = this.imageEmbeds.get(key);
    if (hit) return hit;
    const { pixel_values } = await this.imageProcessor(image);
    this.calls.image++;
    const out = (await this.run(() => this.visionModel({ pixel_values }))) as Record<string, Tensor>;
    const embed = (out.image_embeds.data as Float32Array).slice();
    for (const t of Object.values(out)) t.dispose();
    pixel_values.dispose();
    this.imageEmbeds.set(key, embed);
    return embed;
  }

  /** Text embeddings of the sentences not cached yet, in batches of TEXT_BATCH. */
  private async embedTexts(sentences: string[]): Promise<void> {
    const todo = [...new Set(sentences.filter((s) => !this.textEmbeds.has(s)))];
    for (let i = 0; i < todo.length; i += TEXT_BATCH) await this.embedBatch(todo.slice(i, i + TEXT_BATCH));
  }

  private async embedBatch(todo: string[]): Promise<void> {
    const encoded = todo.map((s) => this.textIds(s).ids);
    const L = Math.max(...encoded.map((ids) => ids.length));
    const data = new BigInt64Array(todo.length * L).fill(BigInt(this.pad));
    const mask = new BigInt64Array(todo.length * L);
    encoded.forEach((ids, b) =>
      ids.forEach((id, t) => {
        data[b * L + t] = BigInt(id);
        mask[b * L + t] = 1n;
      }),
    );
    const input_ids = new Tensor('int64', data, [todo.length, L]);
    const attention_mask = new Tensor('int64', mask, [todo.length, L]);
    this.calls.text++;
    let out: Record<string, Tensor>;
    try {
      out = (await this.run(() => this.textModel({ input_ids, attention_mask }))) as Record<string, Tensor>;
    } finally {
      input_ids.dispose();
      attention_mask.dispose();
    }
    const embeds = out.text_embeds;
    const E = embeds.dims[1];
    const values = embeds.data as Float32Array;
    todo.forEach((s, b) => this.textEmbeds.set(s, values.slice(b * E, (b + 1) * E)));
    for (const t of Object.values(out)) t.dispose();
  }

  async similarity(image: RawImage, sentences: string[]): Promise<SentenceSimilarity[]> {
    const key = imageKey(image);
    const cacheKey = (s: string) => `${this.label}\u0000${key}\u0000${s}`;
    const missing = sentences.filter((s) => !this.results.has(cacheKey(s)));
    if (missing.length > 0) {
      const imageEmbed = await this.imageEmbedding(image, key);
      await this.embedTexts(missing);
      const scores = clipSimilarity(
        missing.map((s) => this.textEmbeds.get(s)!),
        imageEmbed,
      );
      missing.forEach((s, i) => this.results.set(cacheKey(s), { similarity: scores[i], truncated: this.textIds(s).truncated }));
    }
    return sentences.map((s) => ({ ...this.results.get(cacheKey(s))! }));
  }

  dispose(): void {
    this.results.clear();
    this.textEmbeds.clear();
    this.imageEmbeds.clear();
    void this.textModel.dispose();
    void this.visionModel.dispose();
  }
}

/** Loads a CLIP (text and vision towers, tokenizer, image processor) from a model source through transformers.js. */
export async function loadClipScorer(source: ModelSource, options: LoadClipScorerOptions = {}): Promise<ClipScorer> {
  const dtype = options.dtype ?? 'fp32';
  const config = await source.getJson<ClipConfigJson>('config.json');
  if (!clipFamily.modelTypes.includes(config.model_type ?? '')) {
    throw new Error(`${source.label}: model type "${config.model_type ?? 'unknown'}" is not a CLIP model (expected model_type "clip").`);
  }
  const onnxFiles = CLIP_ONNX_FILES(dtype);
  const files = await loadFiles(source, onnxFiles, options.onProgress);
  for (const f of onnxFiles) checkOnnxFile(files[f]!, f, source.label);
  const create = (d: OnnxDevice, preloaded: typeof files): Promise<ClipModels> =>
    withSource(
      source,
      async (key) => {
        const text = await CLIPTextModelWithProjection.from_pretrained(key, { dtype, device: d });
        try {
          return { text, vision: await CLIPVisionModelWithProjection.from_pretrained(key, { dtype, device: d }) };
        } catch (e) {
          void text.dispose();
          throw e;
        }
      },
      { preloaded },
    );
  const { value: models, device, fallbackReason } = await withDeviceFallback(
    options.device,
    (d) => create(d, files),
    (e) => describeLoadError(e, source, onnxFiles),
  );
  // Read again when needed rather than kept: the files are as large as the model.
  const recreate = async () => create(device, await loadFiles(source, onnxFiles));
  try {
    const tokenizer = await withSource(source, (key) => AutoTokenizer.from_pretrained(key));
    const imageProcessor = (await withSource(source, (key) => AutoImageProcessor.from_pretrained(key))) as unknown as ImageProcessor;
    const window = config.text_config?.max_position_embeddings ?? 77;
    const declared = Number(tokenizer.model_max_length);
    const contextLength = Number.isFinite(declared) && declared > 0 ? Math.min(declared, window) : window;
    return new OnnxClipScorer(source.label, models, recreate, tokenizer, imageProcessor, contextLength, device, fallbackReason);
  } catch (e) {
    void models.text.dispose();
    void models.vision.dispose();
    throw e;
  }
}
