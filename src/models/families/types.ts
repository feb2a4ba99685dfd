/**
 * What the workbench knows about one model family, in one record: how its `config.json` reads, the tensors its
 * `model.safetensors` holds, how the TF.js engine builds it, how a conversation is written for it, and which ONNX
 * sessions (and transformers.js class) the ONNX engine loads. The engines, the tiny-model generator and the float64
 * references ask the record instead of testing `model_type`.
 */
import type { ModelConfig } from '../config';
import type { ChatFormat } from '../teacherForcing';
import type { Idefics3Model } from '../tfjs/idefics3';
import type { LlamaModel } from '../tfjs/llama';
import type { LoraAdapters } from '../tfjs/lora';
import type { WeightReader } from '../tfjs/weightReader';
import type { Json } from './fields';

/** The transformers.js classes the ONNX engine loads a family with (looked up by name in onnx/engine.ts). */
export type TransformersModelClass = 'AutoModelForVision2Seq' | 'AutoModelForCausalLM';

export interface OnnxSessions {
  /** The config.json `model_type` values the ONNX engine loads (a subset of the family's). */
  modelTypes: readonly string[];
  /** The sessions transformers.js creates: file base names under `onnx/`. */
  sessions: readonly string[];
  modelClass: TransformersModelClass;
}

/** A language model family (multimodal or text-only) that both MLLM engines run. */
export interface MllmFamily<C extends ModelConfig = ModelConfig> {
  /** `modelType` of its parsed config. */
  id: C['modelType'];
  /** The models it stands for, as a user knows them. */
  name: string;
  /** The config.json `model_type` values it reads. */
  modelTypes: readonly string[];
  /** Whether prompts may carry an image: the processor is loaded, the vision tower runs. */
  multimodal: boolean;
  /** Where the language model's tensors sit in the checkpoint (`model.` or `model.text_model.`). */
  textPrefix: string;
  parseConfig(json: Json): C;
  /** Every parameter by Hugging Face name with its shape, in the checkpoint's module order (the order weights are drawn in). */
  weightShapes(config: C): Map<string, number[]>;
  /** The TF.js model from checked weights; LoRA adapters go on the language model's linears. */
  buildTfjs(config: C, weights: WeightReader, lora: LoraAdapters): Idefics3Model | LlamaModel;
  /** How its chat template takes a conversation. */
  chatFormat(endOfTurnId: number): ChatFormat;
  onnx: OnnxSessions;
}
