import { AutoProcessor, AutoTokenizer, env, type PreTrainedTokenizer, type Processor } from '@huggingface/transformers';
import { ModelFileError, parseModelJson, type ModelSource, type ProgressCallback } from './sources';

/**
 * transformers.js reads model files itself. Rather than let it reach the network or its own caches, every
 * file it asks for is answered by one of our ModelSources (hub with progress and Cache Storage, picked folder,
 * bundled URL), so there is one model-source layer and a user's folder never leaves the tab.
 * This module is the one place the library's `env` is configured, by {@link configureTransformers}, which
 * {@link withSource} awaits: every tokenizer, processor and model is loaded through it, so none can reach the
 * library before it answers from our sources and runs ONNX Runtime from the app's own files.
 */
const HOST = 'https://aspo-workbench.invalid/';

interface Registered {
  source: ModelSource;
  onProgress?: ProgressCallback;
  /** Files already read (checked before loading, or read once already), served without reading them again. */
  preloaded: Map<string, Uint8Array>;
  /** Files the source does not have (transformers.js asks for optional ones too). */
  missing: Set<string>;
  /** JSON files that do not parse, with their error: given again when transformers.js asks again (cache, then fetch). */
  invalid: Map<string, ModelFileError>;
}

const sources = new Map<string, Registered>();
let nextKey = 0;

/** The bytes of `url` (under {@link HOST}) from its registered source, read once per registration; null when missing or not ours. */
async function readRegistered(url: string, onMissing: 'null' | 'undefined'): Promise<Uint8Array | null | undefined> {
  const rest = url.startsWith(HOST) ? url.slice(HOST.length) : '';
  const key = rest.split('/')[0];
  const entry = key ? sources.get(key) : undefined;
  if (!entry) return onMissing === 'null' ? null : undefined;
  const name = decodeURIComponent(rest.slice(key.length + 1).split(/[?#]/)[0]);
  const invalid = entry.invalid.get(name);
  if (invalid) throw invalid;
  let bytes: Uint8Array | null | undefined = entry.preloaded.get(name);
  if (bytes === undefined) {
    bytes = await entry.source.tryGetFile(name, entry.onProgress);
    if (bytes === null) entry.missing.add(name);
    else {
      // transformers.js would decode a JSON file leniently (Latin-1 as U+FFFD) and, when it does not parse, name
      // neither the file nor the line ("Unexpected end of JSON input"); so each is checked here first.
      if (name.endsWith('.json')) checkJson(entry, name, bytes);
      entry.preloaded.set(name, bytes);
    }
  }
  return bytes ?? (onMissing === 'null' ? null : undefined);
}

function checkJson(entry: Registered, name: string, bytes: Uint8Array): void {
  try {
    parseModelJson(bytes, name, entry.source);
  } catch (e) {
    if (e instanceof ModelFileError) entry.invalid.set(name, e);
    throw e;
  }
}

function responseOf(bytes: Uint8Array, head = false): Response {
  const body = head ? null : new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length);
  return new Response(body, { status: 200, headers: { 'content-length': String(bytes.length) } });
}

function answerFromSources() {
  env.allowLocalModels = false;
  env.allowRemoteModels = true;
  env.remoteHost = HOST;
  env.remotePathTemplate = '{model}/';
  env.useBrowserCache = false;
  env.useFSCache = false;
  // A "cache" that answers from the registered sources: transformers.js then takes the bytes as they are
  // (in Node it would otherwise insist on a file path for ONNX files), and never stores anything itself.
  env.useCustomCache = true;
  env.customCache = {
    async match(request: string | Request) {
      const url = typeof request === 'string' ? request : request.url;
      const bytes = await readRegistered(url, 'undefined');
      return bytes ? responseOf(bytes) : undefined;
    },
    async put() {},
  };
  env.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    // transformers.js also fetches images the app hands it (RawImage.fromURL of a data: or blob: URL).
    if (!url.startsWith(HOST)) return fetch(input, init);
    const key = url.slice(HOST.length).split('/')[0];
    if (!sources.has(key)) return new Response(null, { status: 404, statusText: `no model source registered for ${url}` });
    const bytes = await readRegistered(url, 'null');
    if (!bytes) return new Response(null, { status: 404, statusText: 'Not Found' });
    return responseOf(bytes, init?.method === 'HEAD');
  };
}

export interface RegisterOptions {
  /** Progress of each file transformers.js reads through this source. */
  onProgress?: ProgressCallback;
  /** Bytes already in hand, by file name (e.g. `onnx/model.onnx`), served instead of reading the source again. */
  preloaded?: Record<string, Uint8Array | null>;
}

/** A model id under which transformers.js' Auto* classes read this source's files. */
function registerSource(source: ModelSource, options: RegisterOptions = {}): string {
  const key = `source-${nextKey++}`;
  const preloaded = new Map<string, Uint8Array>();
  for (const [name, bytes] of Object.entries(options.preloaded ?? {})) if (bytes) preloaded.set(name, bytes);
  sources.set(key, { source, onProgress: options.onProgress, preloaded, missing: new Set(), invalid: new Map() });
  return key;
}

function unregisterSource(key: string): void {
  sources.delete(key);
}

/** Runs `load(key)` with `source` registered under `key` (transformers.js `from_pretrained(key)` reads from it). */
export async function withSource<T>(source: ModelSource, load: (key: string) => Promise<T>, options: RegisterOptions = {}): Promise<T> {
  await configureTransformers();
  const key = registerSource(source, options);
  try {
    return await load(key);
  } catch (e) {
    throw (await missingFileError(e, sources.get(key)!)) ?? e;
  } finally {
    unregisterSource(key);
  }
}

/** What to do about a file transformers.js needs and the source lacks, by kind of source. */
function missingFileFix(source: ModelSource, file: string): string {
  switch (source.kind) {
    case 'folder':
      return `copy ${file} into the folder from the model's original repository, or pick the folder that holds it`;
    case 'hub':
      return `choose a repository that ships ${file} (a transformers.js-ready copy of the model has it)`;
    case 'url':
      return 'the bundled model is incomplete: write it again with `npm run models`';
  }
}

/**
 * transformers.js names a file it could not find by the internal URL it read it from (under {@link HOST}), which
 * means nothing to a user: name the source, the file and the fix instead. Null for any other error.
 */
async function missingFileError(e: unknown, entry: Registered): Promise<ModelFileError | null> {
  const message = e instanceof Error ? e.message : '';
  if (!message.includes(HOST)) return null;
  const file = [...entry.missing].find((name) => message.includes(`/${encodeURI(name)}"`));
  if (file === undefined) return null;
  // The source's own words for the missing file (a folder lists what it holds); asked again only on this failure.
  const lacking = await entry.source.getFile(file).then(
    () => `${entry.source.label} has no file ${file}`,
    (err: unknown) => (err instanceof ModelFileError ? err.message : `${entry.source.label} has no file ${file}`),
  );
  return new ModelFileError(`${lacking}. transformers.js needs it to load this model: ${missingFileFix(entry.source, file)}.`, {
    reason: 'missing',
    file,
    source: entry.source.label,
    cause: e,
  });
}

export async function loadTokenizer(source: ModelSource): Promise<PreTrainedTokenizer> {
  return withSource(source, (key) => AutoTokenizer.from_pretrained(key));
}

export async function loadProcessor(source: ModelSource): Promise<Processor> {
  return withSource(source, (key) => AutoProcessor.from_pretrained(key));
}

// ---------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------

const IS_NODE = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined';

let configured: Promise<void> | null = null;

/**
 * ONNX Runtime's WebAssembly threads. Its own default is ceil(cores / 2) up to 4, one thread on a 2-core machine,
 * so the count is set here: one per logical core, up to the same 4, where the page is cross-origin isolated; 1
 * elsewhere, since without SharedArrayBuffer ORT would warn and fall back to one thread anyway.
 */
export function onnxWasmThreads(): number {
  if (globalThis.crossOriginIsolated !== true) return 1;
  return Math.max(1, Math.min(4, globalThis.navigator?.hardwareConcurrency ?? 1));
}

/**
 * Sets transformers.js up before its first use, once (later calls return the same promise): model files come
 * from our sources, and in the browser onnxruntime-web runs from the `.wasm`/`.mjs` pair that this app's own
 * build serves (Vite `?url` imports copy them into the bundle). Left alone, transformers.js would fetch that pair
 * from cdn.jsdelivr.net the first time anything runs an ONNX session — a model, but also an image processor,
 * which resizes with a small ONNX op (SmolVLM's for the TF.js engine too). The pair is the one transformers.js
 * picks for its WebGPU build of onnxruntime-web (`ort-wasm-simd-threaded.asyncify`); the WASM fallback uses the
 * same files. In Node, onnxruntime-node is used and needs no files.
 */
function configureTransformers(): Promise<void> {
  configured ??= (async () => {
    answerFromSources();
    if (IS_NODE) return;
    const [wasm, mjs] = await Promise.all([
      import('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url'),
      import('onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url'),
    ]);
    const onnx = env.backends.onnx as { wasm?: { wasmPaths?: unknown; proxy?: boolean; numThreads?: number } };
    if (!onnx.wasm) throw new Error('this build of transformers.js has no ONNX Runtime WebAssembly backend');
    onnx.wasm.wasmPaths = { wasm: wasm.default, mjs: mjs.default };
    onnx.wasm.numThreads = onnxWasmThreads();
  })();
  return configured;
}

/**
 * Checks that `bytes` is a whole ONNX protobuf (every top-level field of the ModelProto fits in the file and
 * the graph is there), so that a missing or cut-off download is reported naming the file, before
 * ONNX Runtime fails with a parser message that names none.
 */
export function checkOnnxFile(bytes: Uint8Array, file: string, source: string): void {
  const invalid = (why: string) =>
    new ModelFileError(`${source}: ${file} is not a usable ONNX model (${why}); download it again or rebuild the folder.`, {
      reason: 'invalid',
      file,
      source,
    });
  let at = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= bytes.length) throw invalid(`the file is truncated (${bytes.length} bytes)`);
      const b = bytes[at++];
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw invalid('malformed protobuf varint');
  };
  if (bytes.length === 0) throw invalid('the file is empty');
  let sawGraph = false;
  while (at < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw invalid('malformed protobuf field');
    if (wire === 0) varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const len = varint();
      at += len;
    } else throw invalid(`unexpected protobuf wire type ${wire}`);
    if (at > bytes.length) throw invalid(`the file is truncated (${bytes.length} bytes; a field runs to byte ${at})`);
    if (field === 7 && wire === 2) sawGraph = true;
  }
  if (!sawGraph) throw invalid('it holds no graph');
}
