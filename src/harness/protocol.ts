/**
 * What the harness page (`harness.html`, src/harness/main.ts) and its callers — the Playwright engine tests
 * (e2e/engine.spec.ts) and the benchmarks (scripts/bench-*.ts) — share: `window.aspoHarness`'s functions and the
 * plain data they take and return (it crosses the page boundary of `page.evaluate` unchanged). Types only, plus the
 * median every timing reports, so a Node caller imports nothing of the page.
 */
import type { ResponseLogprobs } from '../models/engine';
import type { OnnxDevice, OnnxDtypeOption } from '../models/onnx/engine';
import type { BackendName, WasmInfo } from '../tf/backend';
import type { TrainSettings, TrainSettingsInput } from '../train/settings';

export interface ImagePixels {
  /** Row-major pixel bytes (0–255), `channels` per pixel. */
  data: number[];
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export interface LogprobsArgs {
  /** URL prefix of a model folder, e.g. `/models/tiny-smolvlm`. */
  modelUrl: string;
  prompt: string;
  responses: string[];
  imagePixels?: ImagePixels;
  adapters?: boolean;
  /** Which engine scores: the TF.js one (default) or the ONNX one (transformers.js, WebGPU where it works). */
  engine?: 'tfjs' | 'onnx';
}

/** The ONNX engine loaded afresh on a given device and dtype (the quantized files, e2e/quantized.spec.ts). */
export interface OnnxLogprobsArgs extends Omit<LogprobsArgs, 'engine' | 'adapters'> {
  device: OnnxDevice;
  dtype: OnnxDtypeOption;
  /** ONNX Runtime's verbose log (where it placed each node, among much else) to the console while it loads. */
  verboseLoad?: boolean;
}

export interface OnnxLogprobsResult {
  results: ResponseLogprobs[];
  /** The device the sessions ran on, and why it is not the one asked for (null when it is). */
  device: OnnxDevice;
  fallbackReason: string | null;
}

export interface HubLogprobsArgs extends Omit<LogprobsArgs, 'modelUrl'> {
  /** Hub (or mirror) root, e.g. `http://127.0.0.1:1234`. */
  endpoint: string;
  /** `owner/name`. */
  id: string;
}

export interface HubLogprobsResult {
  results: ResponseLogprobs[];
  /** For the files loaded with progress (config.json, model.safetensors): whether the bytes came from the cache. */
  fromCache: Record<string, boolean>;
}

export type BenchModel = { kind: 'url'; url: string } | { kind: 'random-smolvlm-256m'; seed: number };

export interface BenchLoadResult {
  backend: string;
  parameters: number;
  loadMs: number;
  imageSeqLen: number;
  vocabSize: number;
  memory: MemoryInfo;
}

export interface MemoryInfo {
  numBytes: number;
  numTensors: number;
}

export interface BenchShape {
  image: boolean;
  /** Text tokens of the prompt (image tokens come on top). */
  promptTokens: number;
  /** Tokens of each of the two responses. */
  responseTokens: number;
}

export interface BenchRunOptions extends BenchShape {
  runs: number;
  /**
   * 'full': one untimed run of the same shape first; 'short': an untimed run on 2-token responses (cheaper);
   * 'none': no untimed run (the caller warmed up with an earlier measurement).
   */
  warmup: 'full' | 'short' | 'none';
}

export interface TimingResult {
  runsMs: number[];
  medianMs: number;
  /** Length of each sequence fed to the decoder (prompt, image tokens and response). */
  sequenceLength: number;
  batch: number;
  /** Response tokens scored per run (both responses). */
  responseTokens: number;
}

export interface LogprobsTiming extends TimingResult {
  tokensPerS: number;
}

export interface TrainStepTiming extends TimingResult {
  loss: number[];
  /** Steps the trainer's step skipped (loss or gradient not finite), with the reason; their times are still in runsMs. */
  skippedSteps: string[];
  trainableParameters: number;
  memoryBeforeFirstStep: MemoryInfo;
  memoryAfterFirstStep: MemoryInfo;
  memoryAfterLastStep: MemoryInfo;
}

export type FeatureMode = 'compute' | 'reuse' | 'synthetic';

/** The tiny CLIP loaded fresh for the scoring benchmark (scripts/bench-score.ts). */
export interface ClipBenchLoadArgs {
  modelUrl: string;
  device: OnnxDevice;
  imagePixels: ImagePixels;
}

export interface ClipBenchLoadResult {
  /** The device ONNX Runtime Web runs on (after any fallback). */
  device: OnnxDevice;
  fallbackReason: string | null;
  contextLength: number;
  loadMs: number;
}

export interface ClipBenchScoreResult {
  ms: number;
  /** Runs of the text tower this call made: 1 batched, or one per sentence (0 would mean the cache answered). */
  textRuns: number;
}

export interface EnginesBenchLoadArgs {
  modelUrl: string;
  onnxDevice: OnnxDevice;
  imagePixels: ImagePixels;
}

export interface EnginesBenchLoadResult {
  onnx: { device: OnnxDevice; fallbackReason: string | null; loadMs: number };
  tfjs: { backend: string; loadMs: number };
}

export interface EngineLogprobsResult {
  ms: number;
  /** Response tokens scored (all responses). */
  responseTokens: number;
  /** Σ log-probs of each response (to check that both engines compute the same function). */
  totals: number[];
}

/** One way of training, run by {@link AspoHarness.benchTrainer}. */
export interface TrainerBenchVariant {
  name: string;
  objective: 'aspo' | 'dpo';
  /**
   * 'cached': the Trainer's normal path (reference log-probs computed once per pair in prepare()); 'recompute': before
   * each step, the reference log-probs of the step's pairs are computed again (`responseLogprobs(…, false)` for chosen
   * and rejected), as a trainer without the cache would.
   */
  reference: 'cached' | 'recompute';
}

export interface TrainerBenchSetupArgs {
  backend: BackendName;
  model: BenchModel;
  variants: TrainerBenchVariant[];
  /** The first N sandbox training pairs (default all SANDBOX_TRAIN_SIZE). */
  pairs?: number;
  /** Overrides of the default training settings (the objective comes from each variant). */
  settings?: TrainSettingsInput;
  /**
   * For random-smolvlm-256m: the pairs are text-only (the random model has no image processor; the vision tower is
   * frozen and its features cached, so a step does not run it anyway) and tokenized with the tiny SmolVLM's tokenizer,
   * and each response is truncated to this many tokens (maxSeqLen = prompt + responseTokens).
   */
  responseTokens?: number;
}

export interface TrainerBenchSetupResult {
  backend: string;
  parameters: number;
  trainableParameters: number;
  loadMs: number;
  /** Wall time of Trainer.prepare() per variant (encoding, vision features, reference log-probs of every pair). */
  prepareMs: Record<string, number>;
  settings: TrainSettings;
  pairs: number;
  withImages: boolean;
  /** Tokens of the first pair: prompt (image tokens included) and responses after truncation. */
  firstPair: { promptTokens: number; chosenTokens: number; rejectedTokens: number };
  notices: string[];
}

export interface TrainerBenchArgs {
  /** Names of set-up variants to step; default all. */
  variants?: string[];
  /** Measured rounds: each runs one step of every variant, the order rotated by one per round. */
  rounds: number;
  /** Untimed rounds first. */
  warmupRounds: number;
}

export interface TrainerBenchResult {
  backend: string;
  /** Wall time of each measured step (for 'recompute': the reference forwards plus Trainer.step). */
  runsMs: Record<string, number[]>;
  /** Of runsMs, the part spent recomputing the reference ('recompute' variants). */
  referenceMs: Record<string, number[]>;
  warmupMs: Record<string, number[]>;
  losses: Record<string, number[]>;
  skippedSteps: string[];
  memoryBefore: MemoryInfo;
  memoryAfter: MemoryInfo;
}

export interface IsolationInfo {
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  /** TF.js' WASM backend: null until it has started (`setBackend('wasm')`). */
  tfjsWasm: WasmInfo | null;
  /** ONNX Runtime's `env.backends.onnx.wasm.numThreads`: null until transformers.js is first set up (a model load). */
  onnxThreads: number | null;
}

/** ONNX Runtime WebAssembly log-probs with a given thread count (scripts/bench-cpu.ts), in a fresh page. */
export interface OnnxThreadsArgs {
  modelUrl: string;
  /** Set as `env.backends.onnx.wasm.numThreads` before the first session is created. */
  numThreads: number;
  prompt: string;
  responses: string[];
  warmupRuns: number;
  runs: number;
}

export interface OnnxThreadsResult {
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  numThreadsAsked: number;
  /** `numThreads` once the sessions exist: ONNX Runtime sets 1 where the page is not cross-origin isolated. */
  numThreadsAfterLoad: number | null;
  device: OnnxDevice;
  loadMs: number;
  runsMs: number[];
  /** Response tokens scored per run (all responses). */
  responseTokens: number;
}

export interface AspoHarness {
  backend(): string;
  setBackend(name: BackendName): Promise<string>;
  memory(): MemoryInfo;
  /** Σ xᵢ² · (i + 1) over x = [1, 2, 3, 4] (= 100) on the active backend, read back with `await data()`. */
  probe(): Promise<{ backend: string; value: number }>;
  logprobs(args: LogprobsArgs): Promise<ResponseLogprobs[]>;
  logprobsFromHub(args: HubLogprobsArgs): Promise<HubLogprobsResult>;
  onnxLogprobs(args: OnnxLogprobsArgs): Promise<OnnxLogprobsResult>;
  clearModelCache(): Promise<boolean>;
  benchLoad(model: BenchModel): Promise<BenchLoadResult>;
  /**
   * Image features for the benchmarks with an image: 'compute' times one run of the vision tower (and keeps a copy);
   * 'reuse' takes the copy an earlier load of the same model computed (on another backend); 'synthetic' makes
   * random features of the right shape (the decoder's cost does not depend on their values).
   */
  benchImageFeatures(opts: { mode: FeatureMode }): Promise<{ ms: number | null; mode: FeatureMode; backend: string }>;
  benchLogprobs(opts: BenchRunOptions): Promise<LogprobsTiming>;
  /**
   * Steps of the project's trainer (`optimizerStep`, src/train/optimizerStep.ts) with objective DPO on one synthetic
   * pair: response 0 chosen, response 1 rejected, the reference (adapters off) computed once before, untimed.
   */
  benchTrainStep(opts: BenchRunOptions & { learningRate?: number; beta?: number }): Promise<TrainStepTiming>;
  benchUnload(): Promise<MemoryInfo>;
  benchClipLoad(args: ClipBenchLoadArgs): Promise<ClipBenchLoadResult>;
  /** Scores `sentences` against the loaded image: all in one call (batched), or one call per sentence. */
  benchClipScore(args: { sentences: string[]; oneAtATime: boolean }): Promise<ClipBenchScoreResult>;
  benchClipUnload(): Promise<void>;
  /** Loads the ONNX engine and the TF.js engine (on the active backend) of one model folder. */
  benchEnginesLoad(args: EnginesBenchLoadArgs): Promise<EnginesBenchLoadResult>;
  /** `engine.logprobs` (the MllmEngine interface) of `responses` for `prompt`, with the loaded image or without. */
  benchEngineLogprobs(args: { engine: 'onnx' | 'tfjs'; prompt: string; responses: string[]; withImage: boolean }): Promise<EngineLogprobsResult>;
  benchEnginesUnload(): Promise<MemoryInfo>;
  /** Loads a model on `backend` and a real Trainer per variant on the sandbox pairs, and runs each one's prepare(). */
  benchTrainerSetup(args: TrainerBenchSetupArgs): Promise<TrainerBenchSetupResult>;
  /** Steps the set-up trainers (interleaved, on the main thread) and times each step. */
  benchTrainer(args: TrainerBenchArgs): Promise<TrainerBenchResult>;
  benchTrainerUnload(): Promise<MemoryInfo>;
  /** Loads the ONNX engine on WebAssembly with `numThreads` threads and times its log-probs (once per page). */
  benchOnnxThreads(args: OnnxThreadsArgs): Promise<OnnxThreadsResult>;
  /** Whether the page is cross-origin isolated, and the threads of TF.js' WASM backend and of ONNX Runtime. */
  isolation(): Promise<IsolationInfo>;
}

declare global {
  interface Window {
    aspoHarness?: AspoHarness;
  }
}

/** The median of `xs` (of two middle values, their mean): the `medianMs` of every timing. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, c) => a - c);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
