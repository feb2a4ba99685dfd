/**
 * LoRA adapters in PEFT's on-disk format, so that an adapter trained in the tab loads with
 * `PeftModel.from_pretrained(base, dir)` and one trained with PEFT loads here.
 *
 * `adapter_model.safetensors` holds, for every adapted linear layer, `base_model.model.<module>.lora_A.weight`
 * [r, in] and `base_model.model.<module>.lora_B.weight` [out, r] — the names `PeftModel.save_pretrained` writes
 * (the adapter name, e.g. `.default`, is stripped on save; `base_model.model.` comes from the PeftModel →
 * LoraModel wrappers). For SmolVLM (Idefics3ForConditionalGeneration) a module is e.g.
 * `model.text_model.layers.0.self_attn.q_proj`, for SmolLM2 (LlamaForCausalLM) `model.layers.0.self_attn.q_proj`.
 * `adapter_config.json` is LoraConfig's JSON (keys sorted, as PEFT writes them).
 */
import * as tf from '@tensorflow/tfjs';
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '../models/safetensors';
import type { LoraAdapters } from '../models/tfjs/lora';

export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
const PREFIX = 'base_model.model.';

export interface PeftFiles {
  'adapter_model.safetensors': Uint8Array;
  'adapter_config.json': string;
}

export interface PeftExportOptions {
  /** `base_model_name_or_path`, e.g. `HuggingFaceTB/SmolVLM-256M-Instruct` */
  baseModel: string;
  /** `target_modules`; default: see `peftTargetModules` */
  targetModules?: string[] | string;
  /** `task_type`; default `CAUSAL_LM` */
  taskType?: string;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `target_modules` that select exactly the adapted layers. PEFT matches a list by module-name suffix, so for
 * SmolVLM `["q_proj", …]` would also put adapters on the SigLIP vision tower's `q_proj`/`k_proj`/`v_proj`; when
 * the adapters live under `model.text_model.` a regular expression (which PEFT `re.fullmatch`es against each
 * module name) restricts them to the language model. Otherwise the plain list of module names is written.
 */
export function peftTargetModules(lora: LoraAdapters): string[] | string {
  const names = lora.names();
  const leaves = [...new Set(names.map((n) => n.slice(n.lastIndexOf('.') + 1)))];
  const textModel = 'model.text_model.';
  if (names.length > 0 && names.every((n) => n.startsWith(textModel))) {
    return `${escapeRegex(textModel)}.*\\.(${leaves.map(escapeRegex).join('|')})`;
  }
  return leaves;
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]));
}

/** LoraConfig as JSON, with every key PEFT writes for a plain LoRA adapter. */
export function peftAdapterConfig(lora: LoraAdapters, options: PeftExportOptions): Record<string, unknown> {
  return sortKeys({
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: options.baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: lora.alpha,
    lora_dropout: 0,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: lora.r,
    rank_pattern: {},
    revision: null,
    target_modules: options.targetModules ?? peftTargetModules(lora),
    task_type: options.taskType ?? 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  });
}

/** The two files of a PEFT adapter directory (weights as float32). */
export async function exportPeftAdapter(lora: LoraAdapters, options: PeftExportOptions): Promise<PeftFiles> {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of await lora.exportPeft()) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  return {
    'adapter_model.safetensors': serializeSafetensors(tensors, { format: 'pt' }),
    'adapter_config.json': `${JSON.stringify(peftAdapterConfig(lora, options), null, 2)}\n`,
  };
}

/** What an adapter file must match: rank, alpha and, for each adapted module, its base layer's features. */
export interface AdapterLayout {
  r: number;
  alpha: number;
  targetModules: readonly string[];
  modules: { name: string; inFeatures: number; outFeatures: number }[];
}

/** The layout of `lora`, or of the same layers at another rank and alpha (what reloading with those would give). */
export function adapterLayout(lora: LoraAdapters, at: { r?: number; alpha?: number } = {}): AdapterLayout {
  return {
    r: at.r ?? lora.r,
    alpha: at.alpha ?? lora.alpha,
    targetModules: lora.targetModules,
    modules: lora.names().map((name) => {
      const { A, B } = lora.get(name)!;
      return { name, inFeatures: A.shape[1], outFeatures: B.shape[0] };
    }),
  };
}

export interface PeftConfigFields {
  r?: number;
  alpha?: number;
}

/**
 * The fields of `adapter_config.json` that decide how the adapter loads (`{}` without the file), after checking
 * that the file describes a plain LoRA adapter this loader supports.
 */
export function readPeftConfig(text: string | undefined): PeftConfigFields {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${ADAPTER_CONFIG_FILE} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${ADAPTER_CONFIG_FILE} must hold a JSON object`);
  const config = parsed as Record<string, unknown>;
  if (config.peft_type !== undefined && config.peft_type !== 'LORA') {
    throw new Error(`${ADAPTER_CONFIG_FILE}: peft_type is ${JSON.stringify(config.peft_type)}; only LORA adapters can be loaded`);
  }
  if (config.use_dora === true) throw new Error(`${ADAPTER_CONFIG_FILE}: DoRA adapters (use_dora: true) are not supported`);
  if (config.fan_in_fan_out === true) throw new Error(`${ADAPTER_CONFIG_FILE}: fan_in_fan_out adapters (Conv1D layers) are not supported`);
  if (config.use_rslora === true) throw new Error(`${ADAPTER_CONFIG_FILE}: rank-stabilised LoRA (use_rslora: true) is not supported`);
  const { r, lora_alpha: alpha } = config;
  if (r !== undefined && !(typeof r === 'number' && Number.isInteger(r) && r > 0)) {
    throw new Error(`${ADAPTER_CONFIG_FILE}: r must be a positive integer, got ${JSON.stringify(r)}`);
  }
  if (alpha !== undefined && !(typeof alpha === 'number' && Number.isFinite(alpha) && alpha > 0)) {
    throw new Error(`${ADAPTER_CONFIG_FILE}: lora_alpha must be a positive number, got ${JSON.stringify(alpha)}`);
  }
  return { r, alpha };
}

type AdapterFiles = { 'adapter_model.safetensors': Uint8Array; 'adapter_config.json'?: string };
type Weight = { data: Float32Array; shape: [number, number] };

/**
 * Checks a PEFT LoRA adapter against `layout` and returns its A and B per module, changing nothing: a caller that
 * must reload the model for the file's rank checks first, so that a bad file leaves the adapter in use as it was.
 * F16/BF16 files are widened to float32. Errors name the file, the tensor and both shapes.
 */
export function checkPeftAdapter(files: AdapterFiles, layout: AdapterLayout): Map<string, { A: Weight; B: Weight }> {
  const config = readPeftConfig(files[ADAPTER_CONFIG_FILE]);
  if (config.r !== undefined && config.r !== layout.r) {
    throw new Error(`${ADAPTER_CONFIG_FILE}: the adapter has rank r = ${config.r} but the model's adapters have rank ${layout.r}; load the model with r = ${config.r}`);
  }
  if (config.alpha !== undefined && config.alpha !== layout.alpha) {
    throw new Error(`${ADAPTER_CONFIG_FILE}: lora_alpha is ${config.alpha} but the model's adapters use ${layout.alpha}; the scaling alpha / r would differ`);
  }
  const { tensors } = parseSafetensors(files[ADAPTER_WEIGHTS_FILE], ADAPTER_WEIGHTS_FILE);
  const expected = new Set<string>();
  const weights = new Map<string, { A: Weight; B: Weight }>();
  for (const module of layout.modules) {
    const pair = {} as { A: Weight; B: Weight };
    for (const part of ['lora_A', 'lora_B'] as const) {
      const name = `${PREFIX}${module.name}.${part}.weight`;
      expected.add(name);
      const t = tensors.get(name);
      if (!t) {
        throw new Error(`${ADAPTER_WEIGHTS_FILE} has no tensor "${name}": the adapter was trained on other layers (target modules) than this model's adapters (${layout.targetModules.join(', ')})`);
      }
      if (!(t.data instanceof Float32Array)) throw new Error(`${ADAPTER_WEIGHTS_FILE}: tensor "${name}" has integer dtype ${t.dtype}`);
      const want = part === 'lora_A' ? [layout.r, module.inFeatures] : [module.outFeatures, layout.r];
      if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
        const rankHint =
          t.shape.length === 2 && (part === 'lora_A' ? t.shape[0] !== layout.r && t.shape[1] === want[1] : t.shape[1] !== layout.r && t.shape[0] === want[0])
            ? ` (rank ${part === 'lora_A' ? t.shape[0] : t.shape[1]} in the file, ${layout.r} in the model)`
            : ' (a different base model?)';
        throw new Error(`${ADAPTER_WEIGHTS_FILE}: tensor "${name}" has shape [${t.shape.join(', ')}] but the model expects [${want.join(', ')}]${rankHint}`);
      }
      pair[part === 'lora_A' ? 'A' : 'B'] = { data: t.data, shape: [t.shape[0], t.shape[1]] };
    }
    weights.set(module.name, pair);
  }
  const unknown = [...tensors.keys()].filter((n) => !expected.has(n));
  if (unknown.length > 0) {
    throw new Error(
      `${ADAPTER_WEIGHTS_FILE} has ${unknown.length} tensor(s) this model has no adapter for, e.g. "${unknown.slice(0, 3).join('", "')}"` +
        ' (PEFT names look like base_model.model.<module>.lora_A.weight; other target modules or another base model?)',
    );
  }
  return weights;
}

/**
 * Loads a PEFT LoRA adapter into `lora` (whose model must have the same adapted layers, rank and alpha).
 * Everything is checked before any weight changes, so a failed import leaves the adapters as they were.
 */
export function importPeftAdapter(files: AdapterFiles, lora: LoraAdapters): void {
  const weights = checkPeftAdapter(files, adapterLayout(lora));
  for (const [module, { A, B }] of weights) {
    const adapter = lora.get(module)!;
    tf.tidy(() => {
      adapter.A.assign(tf.tensor2d(A.data, A.shape));
      adapter.B.assign(tf.tensor2d(B.data, B.shape));
    });
  }
}
