/**
 * Benchmark of scoring (issue 4): (a) CLIP sentences scored per second on the bundled tiny CLIP, all sentences of a
 * response in one call (batched) vs one sentence per call, in Chromium (ONNX Runtime Web on WebGPU where its WebGPU
 * EP works, and on WebAssembly) and in Node (onnxruntime-node, CPU) for reference; (b) per-token log-prob
 * throughput of the ONNX engine vs the TF.js engine on the bundled tiny SmolVLM in Chromium, same prompt, image
 * and responses; (c) the character offsets of a long response's tokens (tokenizeResponse) against the growing-prefix
 * decoding it replaced, in Node.
 *
 *   npm run bench:score            (vite build, then this script; it serves dist/ with `vite preview` itself)
 *
 * Every comparison is measured in one process with its sides interleaved run by run, warm-up runs excluded, and
 * reported as medians. The CLIP scorer caches similarities and text embeddings by sentence, so every timed call
 * scores sentences never seen before (the image embedding is computed in the warm-up and cached, as when one
 * image's responses are scored). Prints one JSON object on stdout; progress goes to stderr. Every call has a time
 * cap and the whole run a budget; what does not fit is reported as skipped with the reason. Never a timed test.
 */
import { resolve } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { splitSentences } from '../src/aspo/sentences';
import { sandboxImage, sandboxPairs } from '../src/sandbox/preferences';
import { loadClipScorer } from '../src/models/clip';
import type { OnnxDevice } from '../src/models/onnx/engine';
import { tokenizeResponse, type ChatFormat } from '../src/models/teacherForcing';
import { longResponse, prefixDecodedEnd } from '../src/models/teacherForcing.testutil';
import { loadTokenizer } from '../src/models/transformersEnv';
import { timedSimilarity } from '../src/harness/benchScore';
import type { ImagePixels } from '../src/harness/protocol';
import { Clock, isSkipped, median, resultHeader, ROOT, round, Session, skipped, Timeout, withPreview, type Outcome } from './lib/bench';
import { nodeFolderSource } from './lib/nodeModelSource';

const clock = new Clock('bench:score');
const log = (message: string) => clock.log(message);

/** Total wall time the measurements may use (the last one started may still run up to its cap). */
const TOTAL_BUDGET_S = Number(process.env.BENCH_BUDGET_S ?? 420);
const CAP_S = 120;

const CLIP_URL = '/models/tiny-clip';
const SMOLVLM_URL = '/models/tiny-smolvlm';
const CLIP_DIR = resolve(ROOT, 'tests/fixtures/models/tiny-clip');
const IMAGE_KEY = 'sandbox:train/0';

/** Sentences per response: the sandbox's answers have 3 to 6; longer real answers have more. */
const SENTENCES_PER_RESPONSE = [3, 8];
const CLIP_WARMUP_ROUNDS = 2;
const CLIP_ROUNDS = 15;
const ENGINE_WARMUP_ROUNDS = 2;
const ENGINE_ROUNDS = 15;
/** Sentences of the long responses (about 20 tokens each on the tiny SmolVLM's tokenizer). */
const OFFSET_SENTENCES = [100, 400];
const OFFSET_ROUNDS = 3;

function sandboxPixels(): ImagePixels {
  const img = sandboxImage(IMAGE_KEY);
  return { data: Array.from(img.data), width: img.width, height: img.height, channels: 3 };
}

/** Every sentence of the sandbox's answers, once. */
const BASE_SENTENCES = [
  ...new Set(
    [...sandboxPairs().train, ...sandboxPairs().heldOut].flatMap((p) => [p.chosen, p.rejected]).flatMap((t) => splitSentences(t).map((s) => s.text.trim())),
  ),
];

/** Sentences never handed to a scorer before (the scorer caches by text): a sandbox sentence with a fresh number. */
let fresh = 0;
function freshSentences(n: number): string[] {
  return Array.from({ length: n }, () => {
    const k = fresh++;
    return `${BASE_SENTENCES[k % BASE_SENTENCES.length].replace(/\.$/, '')} ${k}.`;
  });
}

// ---------------------------------------------------------------------------
// (a) CLIP: batched vs one sentence at a time
// ---------------------------------------------------------------------------

/** A loaded CLIP scorer, in the page or in Node: `score` times one call (or one call per sentence). */
interface ClipTarget {
  label: string;
  score(sentences: string[], oneAtATime: boolean): Promise<{ ms: number; textRuns: number }>;
}

interface ClipModeResult {
  runsMs: number[];
  medianMs: number;
  sentencesPerS: number;
  textRunsPerCall: number;
}

interface ClipSizeResult {
  sentencesPerResponse: number;
  batched: ClipModeResult;
  oneAtATime: ClipModeResult;
  /** batched sentences/s over one-at-a-time sentences/s (> 1: batching is faster) */
  batchedOverOneAtATime: number;
}

function modeResult(runsMs: number[], textRuns: number[], n: number): ClipModeResult {
  const m = median(runsMs);
  return { runsMs: runsMs.map((x) => round(x, 2)), medianMs: round(m, 2), sentencesPerS: round(n / (m / 1000), 1), textRunsPerCall: median(textRuns) };
}

/** Rounds of (batched response, one-at-a-time response), their order alternating, each on fresh sentences. */
async function measureClip(target: ClipTarget, n: number): Promise<ClipSizeResult> {
  const times = { batched: [] as number[], single: [] as number[] };
  const runs = { batched: [] as number[], single: [] as number[] };
  for (let r = 0; r < CLIP_WARMUP_ROUNDS + CLIP_ROUNDS; r++) {
    const order = r % 2 === 0 ? ([false, true] as const) : ([true, false] as const);
    for (const oneAtATime of order) {
      const { ms, textRuns } = await target.score(freshSentences(n), oneAtATime);
      if (r < CLIP_WARMUP_ROUNDS) continue;
      const key = oneAtATime ? 'single' : 'batched';
      times[key].push(ms);
      runs[key].push(textRuns);
    }
  }
  const batched = modeResult(times.batched, runs.batched, n);
  const oneAtATime = modeResult(times.single, runs.single, n);
  return { sentencesPerResponse: n, batched, oneAtATime, batchedOverOneAtATime: round(batched.sentencesPerS / oneAtATime.sentencesPerS) };
}

async function clipInNode(): Promise<Outcome<Record<string, unknown>>> {
  const t0 = performance.now();
  const scorer = await loadClipScorer(nodeFolderSource(CLIP_DIR), { device: 'cpu' });
  const loadMs = performance.now() - t0;
  const img = sandboxImage(IMAGE_KEY);
  const image = new RawImage(img.data, img.width, img.height, 3);
  try {
    const target: ClipTarget = {
      label: 'node',
      score: (sentences, oneAtATime) => timedSimilarity(scorer, image, sentences, oneAtATime),
    };
    const sizes: ClipSizeResult[] = [];
    for (const n of SENTENCES_PER_RESPONSE) sizes.push(await measureClip(target, n));
    return { runtime: 'onnxruntime-node', device: scorer.device, loadMs: round(loadMs, 1), sizes };
  } finally {
    scorer.dispose();
  }
}

async function clipInBrowser(session: Session, device: OnnxDevice): Promise<Record<string, unknown>> {
  const load = await session.call(CAP_S, (a) => window.aspoHarness!.benchClipLoad(a), { modelUrl: CLIP_URL, device, imagePixels: sandboxPixels() });
  const target: ClipTarget = {
    label: device,
    score: (sentences, oneAtATime) => session.call(CAP_S, (a) => window.aspoHarness!.benchClipScore(a), { sentences, oneAtATime }),
  };
  const sizes: ClipSizeResult[] = [];
  for (const n of SENTENCES_PER_RESPONSE) sizes.push(await measureClip(target, n));
  await session.call(30, () => window.aspoHarness!.benchClipUnload(), undefined);
  return {
    runtime: 'onnxruntime-web',
    requestedDevice: device,
    device: load.device,
    fallbackReason: load.fallbackReason,
    contextLength: load.contextLength,
    loadMs: round(load.loadMs, 1),
    sizes,
  };
}

// ---------------------------------------------------------------------------
// (b) ONNX engine vs TF.js engine: per-token log-prob throughput
// ---------------------------------------------------------------------------

interface EngineSide {
  runsMs: number[];
  medianMs: number;
  responseTokens: number;
  tokensPerS: number;
}

async function enginesInBrowser(session: Session, tfjsBackend: 'webgpu' | 'cpu', onnxDevice: OnnxDevice): Promise<Record<string, unknown>> {
  await session.call(30, (b) => window.aspoHarness!.setBackend(b), tfjsBackend);
  const load = await session.call(CAP_S, (a) => window.aspoHarness!.benchEnginesLoad(a), { modelUrl: SMOLVLM_URL, onnxDevice, imagePixels: sandboxPixels() });
  const pair = sandboxPairs().train[0];
  const request = { prompt: pair.prompt, responses: [pair.chosen, pair.rejected], withImage: true };
  const times = { onnx: [] as number[], tfjs: [] as number[] };
  const tokens = { onnx: 0, tfjs: 0 };
  const totals: Record<'onnx' | 'tfjs', number[]> = { onnx: [], tfjs: [] };
  for (let r = 0; r < ENGINE_WARMUP_ROUNDS + ENGINE_ROUNDS; r++) {
    const order = r % 2 === 0 ? (['onnx', 'tfjs'] as const) : (['tfjs', 'onnx'] as const);
    for (const engine of order) {
      const out = await session.call(CAP_S, (a) => window.aspoHarness!.benchEngineLogprobs(a), { ...request, engine });
      tokens[engine] = out.responseTokens;
      totals[engine] = out.totals;
      if (r >= ENGINE_WARMUP_ROUNDS) times[engine].push(out.ms);
    }
  }
  const memoryAfterUnload = await session.call(30, () => window.aspoHarness!.benchEnginesUnload(), undefined);
  const side = (e: 'onnx' | 'tfjs'): EngineSide => {
    const m = median(times[e]);
    return { runsMs: times[e].map((x) => round(x, 2)), medianMs: round(m, 2), responseTokens: tokens[e], tokensPerS: round(tokens[e] / (m / 1000), 1) };
  };
  const onnx = side('onnx');
  const tfjs = side('tfjs');
  return {
    onnx: { device: load.onnx.device, fallbackReason: load.onnx.fallbackReason, loadMs: round(load.onnx.loadMs, 1), ...onnx },
    tfjs: { backend: load.tfjs.backend, loadMs: round(load.tfjs.loadMs, 1), ...tfjs },
    /** ONNX tokens/s over TF.js tokens/s (> 1: the ONNX engine is faster) */
    onnxOverTfjs: round(onnx.tokensPerS / tfjs.tokensPerS),
    /** the two engines compute the same function: largest |Σ log p| difference over the responses */
    maxAbsDifferenceOfTotals: Math.max(...totals.onnx.map((t, i) => Math.abs(t - totals.tfjs[i]))),
    memoryAfterUnload,
  };
}

// ---------------------------------------------------------------------------
// (c) Token offsets of a long response: linear tokenizeResponse vs decoding the growing prefix per token
// ---------------------------------------------------------------------------

async function offsetsInNode() {
  const tokenizer = await loadTokenizer(nodeFolderSource(resolve(ROOT, 'tests/fixtures/models/tiny-smolvlm')));
  const format: ChatFormat = { contentAsParts: true, endOfTurnId: tokenizer.eos_token_id! };
  const sizes = [];
  for (const n of OFFSET_SENTENCES) {
    const response = longResponse(n);
    const times = { linear: [] as number[], prefix: [] as number[] };
    let tokens = 0;
    for (let r = 0; r < OFFSET_ROUNDS; r++) {
      const l0 = performance.now();
      const result = tokenizeResponse(tokenizer, 'Describe the image.', response, true, format);
      times.linear.push(performance.now() - l0);
      tokens = result.ids.length;
      const p0 = performance.now();
      // The template puts one space before the answer (responseOffset 1).
      for (let k = 0; k < result.eosIndex; k++) prefixDecodedEnd(tokenizer, result.ids, k, 1, response.length);
      times.prefix.push(performance.now() - p0);
    }
    const linearMs = median(times.linear);
    const prefixMs = median(times.prefix);
    sizes.push({ tokens, linearMs: round(linearMs, 1), prefixDecodingMs: round(prefixMs, 1), prefixDecodingOverLinear: round(prefixMs / linearMs, 1) });
  }
  return { tokenizer: 'tests/fixtures/models/tiny-smolvlm', rounds: OFFSET_ROUNDS, sizes };
}

// ---------------------------------------------------------------------------

async function main() {
  const pair = sandboxPairs().train[0];
  const results: Record<string, unknown> = {};

  /** Runs `fn` unless the budget is spent; a cap exceeded restarts the browser and is reported as skipped. */
  const guarded = async <T>(label: string, session: Session | null, fn: () => Promise<T>): Promise<Outcome<T>> => {
    if (clock.elapsedS() > TOTAL_BUDGET_S) {
      const reason = `the benchmark's total budget of ${TOTAL_BUDGET_S} s was spent (${clock.elapsedS().toFixed(0)} s)`;
      log(`${label}: skipped, ${reason}`);
      return skipped(reason);
    }
    log(`${label}…`);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Timeout && session) {
        log(`${label}: ${err.message}; restarting the browser`);
        await session.restart();
        return skipped(err.message);
      }
      log(`${label} failed: ${(err as Error).message}`);
      return skipped(`failed: ${(err as Error).message}`);
    }
  };

  const node = await guarded('CLIP in Node (onnxruntime-node, CPU)', null, clipInNode);
  const offsets = await guarded('token offsets of long responses in Node: tokenizeResponse vs growing-prefix decoding', null, offsetsInNode);
  let browserVersion = '';
  await withPreview(log, async (origin) => {
    const session = new Session(`${origin}/harness.html`, log);
    try {
      await session.open();
      browserVersion = session.browser.version();
      const webgpu = await guarded('CLIP in Chromium, ONNX Runtime Web WebGPU', session, () => clipInBrowser(session, 'webgpu'));
      const wasm = await guarded('CLIP in Chromium, ONNX Runtime Web WebAssembly', session, () => clipInBrowser(session, 'wasm'));
      results.clip = { chromiumWebgpu: webgpu, chromiumWasm: wasm, node };
      const primary = await guarded('log-probs in Chromium: ONNX engine (WebGPU) vs TF.js engine (WebGPU)', session, () =>
        enginesInBrowser(session, 'webgpu', 'webgpu'),
      );
      const secondary = await guarded('log-probs in Chromium: ONNX engine (WebAssembly) vs TF.js engine (CPU backend)', session, () =>
        enginesInBrowser(session, 'cpu', 'wasm'),
      );
      results.logprobs = { webgpu: primary, cpu: secondary };
    } finally {
      await session.close();
    }
  });

  const clip = results.clip as Record<string, Outcome<{ device?: string; fallbackReason?: string | null; sizes: ClipSizeResult[] }>>;
  const ratiosOf = (x: Outcome<{ sizes: ClipSizeResult[] }> | undefined) =>
    isSkipped(x) ? null : Object.fromEntries(x!.sizes.map((s) => [`${s.sentencesPerResponse} sentences`, s.batchedOverOneAtATime]));
  const logprobs = results.logprobs as Record<string, Outcome<{ onnxOverTfjs: number; onnx: { device: string }; tfjs: { backend: string } }>>;
  const engineRatio = (x: (typeof logprobs)[string]) => (isSkipped(x) ? null : { [`onnx ${x!.onnx.device} / tfjs ${x!.tfjs.backend}`]: x!.onnxOverTfjs });
  const webgpuClip = clip.chromiumWebgpu;
  const result = {
    ...resultHeader('Scoring: CLIP sentences per second (batched vs one at a time) and ONNX vs TF.js engine per-token log-prob throughput', browserVersion),
    summary: {
      clipDeviceInChromium: isSkipped(webgpuClip)
        ? null
        : `${webgpuClip!.device}${webgpuClip!.fallbackReason ? ` (fell back: ${webgpuClip!.fallbackReason})` : ' (ONNX Runtime Web WebGPU EP works)'}`,
      clipBatchedOverOneAtATime: {
        chromiumWebgpu: ratiosOf(clip.chromiumWebgpu),
        chromiumWasm: ratiosOf(clip.chromiumWasm),
        node: ratiosOf(clip.node),
      },
      onnxOverTfjsTokensPerS: { ...engineRatio(logprobs.webgpu), ...engineRatio(logprobs.cpu) },
      offsetsPrefixDecodingOverLinear: isSkipped(offsets)
        ? null
        : Object.fromEntries(offsets!.sizes.map((x) => [`${x.tokens} tokens`, x.prefixDecodingOverLinear])),
    },
    definitions: {
      sentencesPerS: 'sentences of the response / median wall time to score them (one ClipScorer.similarity call with all of them, or one call per sentence); every timed sentence is new to the scorer (its caches never answer: textRunsPerCall shows the text-tower runs), the image embedding is cached after the warm-up',
      batchedOverOneAtATime: 'batched sentences/s over one-at-a-time sentences/s, medians, the two modes interleaved round by round',
      tokensPerS: 'response tokens (chosen + rejected of one sandbox pair, with its 64×64 image) / median wall time of engine.logprobs (tokenization, the teacher-forced forward and the log-softmax read-back; image features cached after the warm-up)',
      onnxOverTfjs: 'ONNX engine tokens/s over TF.js engine tokens/s (> 1: ONNX is faster), the engines interleaved run by run in one page',
      prefixDecodingOverLinear: 'median time of the old offsets (one decode of the growing prefix per token, a step back at a split character) over the median time of the whole tokenizeResponse (template, encoding, offsets, token texts), the two alternating round by round',
    },
    setup: {
      clipModel: `${CLIP_URL} (bundled tiny CLIP, fp32 ONNX)`,
      mllm: `${SMOLVLM_URL} (bundled tiny SmolVLM: fp32 ONNX export and model.safetensors of the same weights)`,
      image: `${IMAGE_KEY} (64×64 sandbox picture)`,
      prompt: pair.prompt,
      responses: [pair.chosen, pair.rejected],
      clipRounds: { warmup: CLIP_WARMUP_ROUNDS, measured: CLIP_ROUNDS },
      engineRounds: { warmup: ENGINE_WARMUP_ROUNDS, measured: ENGINE_ROUNDS },
      capS: CAP_S,
      budgetS: TOTAL_BUDGET_S,
    },
    ...results,
    offsets,
    totalSeconds: round(clock.elapsedS(), 1),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench-score: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
