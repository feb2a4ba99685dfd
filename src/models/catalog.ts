import type { OnnxDtypeOption } from './onnx/engine';
import { hubSource, urlPrefixSource, type ModelSource } from './sources';

export type ModelRole = 'mllm' | 'clip';
export type EngineKind = 'tfjs' | 'onnx';

export interface CatalogEntry {
  id: string;
  role: ModelRole;
  label: string;
  /** Bundled models are served by the app (offline); hub models are downloaded once and kept in Cache Storage. */
  origin: 'bundled' | 'hub';
  /** URL path under the app for bundled models, the repo id for hub models. */
  path: string;
  /** Engines that can run it; the first is the default. */
  engines: EngineKind[];
  /** Approximate download, for the user to decide before pressing Load. */
  download: string;
  dtype: OnnxDtypeOption;
  dtypeLabel: string;
}

const SMOLVLM_Q4: OnnxDtypeOption = { vision_encoder: 'q4', embed_tokens: 'q4', decoder_model_merged: 'q4' };

/** The bundled CLIP trained on the sandbox world: the default CLIP, and the one that scores the sandbox's pairs. */
export const SANDBOX_CLIP_ID = 'sandbox-clip';
export const DEFAULT_CLIP_ID = SANDBOX_CLIP_ID;
export const DEFAULT_MLLM_ID = 'tiny-smolvlm';

/**
 * The models the app offers. The bundled ones are served from tests/fixtures/models; the sandbox models are trained
 * on the sandbox world (`npm run models:sandbox`), the tiny ones have random weights and are there for the tests.
 */
export const CATALOG: CatalogEntry[] = [
  {
    id: 'tiny-smolvlm',
    role: 'mllm',
    label: 'Tiny SmolVLM (random weights, a test model)',
    origin: 'bundled',
    path: 'models/tiny-smolvlm/',
    engines: ['onnx', 'tfjs'],
    download: 'bundled, < 1 MB',
    dtype: 'fp32',
    dtypeLabel: 'fp32',
  },
  {
    id: 'smolvlm-256m',
    role: 'mllm',
    label: 'SmolVLM-256M-Instruct',
    origin: 'hub',
    path: 'HuggingFaceTB/SmolVLM-256M-Instruct',
    engines: ['onnx', 'tfjs'],
    download: 'ONNX q4 ≈ 0.2 GB; safetensors for TF.js ≈ 0.5 GB',
    dtype: SMOLVLM_Q4,
    dtypeLabel: 'q4 (ONNX) / bf16→fp32 (TF.js)',
  },
  {
    id: 'smolvlm-500m',
    role: 'mllm',
    label: 'SmolVLM-500M-Instruct',
    origin: 'hub',
    path: 'HuggingFaceTB/SmolVLM-500M-Instruct',
    engines: ['onnx', 'tfjs'],
    download: 'ONNX q4 ≈ 0.4 GB; safetensors for TF.js ≈ 1 GB',
    dtype: SMOLVLM_Q4,
    dtypeLabel: 'q4 (ONNX) / bf16→fp32 (TF.js)',
  },
  {
    id: SANDBOX_CLIP_ID,
    role: 'clip',
    label: 'Sandbox CLIP (trained on the sandbox world)',
    origin: 'bundled',
    path: 'models/sandbox-clip/',
    engines: ['onnx'],
    download: 'bundled, < 2 MB',
    dtype: 'fp32',
    dtypeLabel: 'fp32',
  },
  {
    id: 'tiny-clip',
    role: 'clip',
    label: 'Tiny CLIP (random weights, a test model)',
    origin: 'bundled',
    path: 'models/tiny-clip/',
    engines: ['onnx'],
    download: 'bundled, < 1 MB',
    dtype: 'fp32',
    dtypeLabel: 'fp32',
  },
  {
    id: 'clip-b32',
    role: 'clip',
    label: 'CLIP ViT-B/32',
    origin: 'hub',
    path: 'Xenova/clip-vit-base-patch32',
    engines: ['onnx'],
    download: 'q8 ≈ 0.15 GB',
    dtype: 'q8',
    dtypeLabel: 'q8',
  },
  {
    id: 'clip-b16',
    role: 'clip',
    label: 'CLIP ViT-B/16',
    origin: 'hub',
    path: 'Xenova/clip-vit-base-patch16',
    engines: ['onnx'],
    download: 'q8 ≈ 0.15 GB',
    dtype: 'q8',
    dtypeLabel: 'q8',
  },
];

export function catalogEntry(id: string): CatalogEntry {
  const entry = CATALOG.find((e) => e.id === id);
  if (!entry) throw new Error(`unknown model "${id}"; known: ${CATALOG.map((e) => e.id).join(', ')}`);
  return entry;
}

/** The app's own base URL, the same in the page and in its worker: the origin and Vite's `base`. */
function appBase(): string {
  return new URL(import.meta.env?.BASE_URL ?? '/', globalThis.location?.origin ?? 'http://localhost/').href;
}

/**
 * Where a catalog entry's files come from: bundled models from the app's own URL; hub models from
 * `hubEndpoint`, the hub (or mirror) the user chose — never a default they did not choose.
 */
export function sourceFor(entry: CatalogEntry, hubEndpoint: string): ModelSource {
  return entry.origin === 'bundled' ? urlPrefixSource(new URL(entry.path, appBase()).href) : hubSource(entry.path, { endpoint: hubEndpoint });
}
