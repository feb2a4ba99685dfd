/**
 * The model options of the commands that run a model for inference (`generate`, `sandbox eval`): --model,
 * --adapter (a PEFT LoRA folder, TF.js only), --engine, --dtype (ONNX only) and --backend (TF.js only), all
 * checked before anything loads.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MllmEngine } from '../../src/models/engine';
import { loadOnnxEngine, ONNX_DTYPE_SUFFIX, type OnnxDtype } from '../../src/models/onnx/engine';
import { loadTfjsEngine } from '../../src/models/tfjs/engine';
import { DEFAULT_LORA } from '../../src/models/tfjs/weights';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, importPeftAdapter, readPeftConfig } from '../../src/train/peft';
import { nodeFolderSource } from '../lib/nodeModelSource';
import { requiredString, UsageError } from './args';
import { BACKEND_OPTION, BACKEND_USAGE, backendOption, ONNX_RUNTIME, refuseBackend, startBackend, type BackendRecord } from './backend';

/** The most --max-new-tokens takes; the model's window cuts generation earlier anyway. */
export const MAX_NEW_TOKENS = 4096;

export const ENGINE_OPTIONS = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  engine: { type: 'string', default: 'tfjs' },
  dtype: { type: 'string' },
  ...BACKEND_OPTION,
} as const;

export const ENGINE_USAGE = `--model DIR [--adapter DIR] [--engine tfjs|onnx] [--dtype ${Object.keys(ONNX_DTYPE_SUFFIX).join('|')}] [${BACKEND_USAGE}]`;

/** The usage text's paragraph on these options, indented as the commands' usage is. */
export const ENGINE_HELP = `--adapter loads a PEFT LoRA adapter folder (adapter_model.safetensors, adapter_config.json, as train writes) onto
      the model; TF.js only. --engine onnx runs the folder's onnx/*.onnx through transformers.js on ONNX Runtime
      (onnxruntime-node, on the CPU) instead of TF.js on model.safetensors (default tfjs); --dtype picks its files
      (default fp32: onnx/<session>.onnx; q8: <session>_quantized.onnx, q4: <session>_q4.onnx, …), and it takes no
      --backend.`;

export interface EngineChoice {
  model: string;
  adapter: string | null;
  kind: 'tfjs' | 'onnx';
  dtype: OnnxDtype;
  backend: ReturnType<typeof backendOption> | null;
}

/** The options read and checked; nothing is loaded yet. */
export function engineChoice(values: Record<string, unknown>): EngineChoice {
  const model = requiredString(values, 'model');
  const kind = values.engine ?? 'tfjs';
  if (kind !== 'tfjs' && kind !== 'onnx') throw new UsageError(`--engine must be tfjs or onnx, got "${String(kind)}"`);
  const adapter = typeof values.adapter === 'string' ? values.adapter : null;
  if (kind === 'onnx') {
    refuseBackend(values, '--engine onnx');
    if (adapter !== null) throw new UsageError('--adapter loads LoRA weights into the TF.js engine; --engine onnx runs the ONNX files as exported and takes no adapter');
  } else if (values.dtype !== undefined) {
    throw new UsageError(`--dtype picks the ONNX files of --engine onnx; the TF.js engine reads model.safetensors, so leave out --dtype or add --engine onnx`);
  }
  const dtype = (values.dtype ?? 'fp32') as OnnxDtype;
  if (!Object.hasOwn(ONNX_DTYPE_SUFFIX, dtype)) throw new UsageError(`--dtype must be one of ${Object.keys(ONNX_DTYPE_SUFFIX).join(', ')}, got "${String(values.dtype)}"`);
  return { model, adapter, kind, dtype, backend: kind === 'tfjs' ? backendOption(values) : null };
}

/** A PEFT adapter folder's two files, refused with the fix when the folder or a file is missing. */
function readAdapterFolder(dir: string): { [ADAPTER_WEIGHTS_FILE]: Uint8Array; [ADAPTER_CONFIG_FILE]: string } {
  if (!existsSync(dir)) throw new Error(`--adapter ${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new Error(`--adapter ${dir} is a file; give the adapter's folder (the --out of train)`);
  for (const name of [ADAPTER_WEIGHTS_FILE, ADAPTER_CONFIG_FILE]) {
    if (!existsSync(join(dir, name))) throw new Error(`--adapter ${dir} has no ${name}: a PEFT adapter folder holds ${ADAPTER_WEIGHTS_FILE} and ${ADAPTER_CONFIG_FILE}`);
  }
  return { [ADAPTER_WEIGHTS_FILE]: readFileSync(join(dir, ADAPTER_WEIGHTS_FILE)), [ADAPTER_CONFIG_FILE]: readFileSync(join(dir, ADAPTER_CONFIG_FILE), 'utf8') };
}

/** Loads the chosen engine for inference (and the adapter onto it), saying what computes its numbers. */
export async function loadEngine(choice: EngineChoice): Promise<{ engine: MllmEngine; backend: BackendRecord }> {
  const source = nodeFolderSource(choice.model);
  if (choice.backend === null) return { engine: await loadOnnxEngine(source, { device: 'cpu', dtype: choice.dtype }), backend: ONNX_RUNTIME };
  const adapter = choice.adapter === null ? null : readAdapterFolder(choice.adapter);
  let lora = DEFAULT_LORA;
  if (adapter) {
    try {
      const config = readPeftConfig(adapter[ADAPTER_CONFIG_FILE]);
      // The adapters are made at the file's rank and alpha, on the default layers, as the tab imports one.
      lora = { r: config.r ?? DEFAULT_LORA.r, alpha: config.alpha ?? DEFAULT_LORA.alpha };
    } catch (err) {
      throw new Error(`--adapter ${choice.adapter}: ${(err as Error).message}`);
    }
  }
  const backend = await startBackend(choice.backend);
  const engine = await loadTfjsEngine(source, { use: 'inference', lora });
  if (adapter) {
    try {
      importPeftAdapter(adapter, engine.model.lora);
    } catch (err) {
      engine.dispose();
      throw new Error(`--adapter ${choice.adapter}: ${(err as Error).message}`);
    }
  }
  return { engine, backend };
}
