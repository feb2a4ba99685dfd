/**
 * Test-and-benchmark harness (`harness.html`): no UI beyond a status line. It sets `window.aspoHarness`
 * (protocol.ts), an object of async functions that Playwright (e2e/engine.spec.ts) and the benchmarks
 * (scripts/bench-*.ts) call through `page.evaluate`, one at a time. The probes are in engineProbe.ts, each
 * benchmark's page side in bench{Engine,Score,Train}.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { env } from '@huggingface/transformers';
import { initBackend } from '../tf/backend';
import { benchOnnxThreads } from './benchCpu';
import { benchImageFeatures, benchKey, benchLoad, benchLogprobs, benchTrainStep, disposeBench } from './benchEngine';
import { benchClipLoad, benchClipScore, benchClipUnload, benchEngineLogprobs, benchEnginesLoad, benchEnginesUnload } from './benchScore';
import { benchTrainer, benchTrainerSetup, benchTrainerUnload } from './benchTrain';
import { clearModelCache, logprobs, logprobsFromHub, onnxLogprobs, probe, unloadEngines } from './engineProbe';
import { isolation } from './isolationProbe';
import { memory, serial, status } from './page';
import type { AspoHarness } from './protocol';

// The image processor runs a tiny ONNX op (bilinear resize) through onnxruntime-web: every load (transformersEnv's
// withSource) points it at the app's own copy of the WebAssembly files (never a CDN). ONNX Runtime then loads them
// by URL itself: a pre-load through transformers.js' env.fetch would be refused, since that fetch answers model
// files only.
env.useWasmCache = false;

const harness: AspoHarness = {
  backend: () => tf.getBackend(),
  setBackend: (name) =>
    serial(`switching to ${name}`, async () => {
      if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
      await tf.ready();
      return tf.getBackend();
    }),
  memory,
  probe: () => serial('probe', probe),
  logprobs: (args) => serial(`log-probs of ${args.modelUrl}`, () => logprobs(args)),
  logprobsFromHub: (args) => serial(`log-probs of ${args.id}`, () => logprobsFromHub(args)),
  onnxLogprobs: (args) => serial(`ONNX log-probs of ${args.modelUrl} on ${args.device}`, () => onnxLogprobs(args)),
  clearModelCache: () => serial('clearing the model cache', clearModelCache),
  benchLoad: (model) => serial(`loading ${benchKey(model)}`, () => benchLoad(model)),
  benchImageFeatures: (opts) => serial('image features', () => benchImageFeatures(opts)),
  benchLogprobs: (opts) => serial('log-prob benchmark', () => benchLogprobs(opts)),
  benchTrainStep: (opts) => serial('training-step benchmark', () => benchTrainStep(opts)),
  benchUnload: () =>
    serial('unloading', async () => {
      disposeBench();
      await unloadEngines();
      return memory();
    }),
  benchClipLoad: (args) => serial('loading CLIP', () => benchClipLoad(args)),
  benchClipScore: (args) => serial('CLIP scoring benchmark', () => benchClipScore(args)),
  benchClipUnload: () => serial('unloading CLIP', async () => benchClipUnload()),
  benchEnginesLoad: (args) => serial('loading the ONNX and TF.js engines', () => benchEnginesLoad(args)),
  benchEngineLogprobs: (args) => serial(`${args.engine} log-prob benchmark`, () => benchEngineLogprobs(args)),
  benchEnginesUnload: () => serial('unloading the engines', async () => benchEnginesUnload()),
  benchTrainerSetup: (args) => serial('setting up the trainers', () => benchTrainerSetup(args)),
  benchTrainer: (args) => serial('trainer benchmark', () => benchTrainer(args)),
  benchTrainerUnload: () => serial('unloading the trainers', async () => benchTrainerUnload()),
  benchOnnxThreads: (args) => serial(`ONNX Runtime WebAssembly on ${args.numThreads} thread(s)`, () => benchOnnxThreads(args)),
  isolation: () => serial('isolation', isolation),
};

initBackend()
  .then((choice) => {
    window.aspoHarness = harness;
    status(`ready (${choice.backend})`, 'ready');
  })
  .catch((err: Error) => status(`no TF.js backend: ${err.message}`, 'error'));
