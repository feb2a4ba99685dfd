/**
 * The memory of one LoRA step (the trainer's optimizerStep, DPO) of the SmolVLM-256M-shaped random model on the
 * WASM backend in Node, at chosen pair lengths: the measurements memoryFit.ts's wasm training estimate is fitted to.
 * A step that outgrows the 4 GiB of wasm32 aborts its process, so every length runs in a child process of its own,
 * one after another; an abort is reported as such.
 *
 *   npx tsx scripts/wasm-step-memory.ts 9 33 65 129     (tokens of each of the two sequences: 1 + prompt + response)
 *   WASM_STEP_RUNS=3 npx tsx scripts/wasm-step-memory.ts 111      (three steps in the process)
 *
 * Prints one JSON array on stdout, one object per length: the heap after the steps (it only grows, so the most it
 * held), and memoryFit.ts's estimate of the step.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchLoad, benchTrainStep, disposeBench } from '../src/harness/benchEngine';
import { parseModelConfig } from '../src/models/config';
import { SMOLVLM_256M_INSTRUCT } from '../src/models/knownConfigs';
import { longestTrainingPair, backendLimit, workingSet } from '../src/models/tfjs/memoryFit';
// Renamed: the React hooks lint rule takes any use* function for a hook.
import { startNodeBackend } from './lib/nodeBackend';

const CHILD = '--child';
/** Steps per length (WASM_STEP_RUNS): more than one shows whether the heap keeps growing from step to step. */
const STEPS = Number(process.env.WASM_STEP_RUNS ?? 1);

/** A pair of `tokens` each: the BOS, then as many prompt tokens as response tokens (the odd one to the response). */
function shapeOf(tokens: number) {
  const body = tokens - 1;
  return { image: false, promptTokens: Math.floor(body / 2), responseTokens: Math.ceil(body / 2) };
}

async function child(tokens: number) {
  await startNodeBackend('wasm');
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  await benchLoad({ kind: 'random-smolvlm-256m', seed: 0 });
  const heapAfterLoad = heap();
  const shape = shapeOf(tokens);
  // Not under tf.profile: over several steps it holds memory of its own (8 steps at 2 × 33 aborted under it, 2.76 GB
  // without).
  const timing = await benchTrainStep({ ...shape, runs: STEPS, warmup: 'none' });
  const config = parseModelConfig(SMOLVLM_256M_INSTRUCT);
  const estimate = workingSet(config, 'wasm', 'training', { sequences: 2, tokens, responseTokens: shape.responseTokens, image: false });
  const result = {
    tokens: timing.sequenceLength,
    ...shape,
    ran: true,
    steps: STEPS,
    stepMs: timing.runsMs.map(Math.round),
    tensorBytes: tf.memory().numBytes,
    heapAfterLoadBytes: heapAfterLoad,
    heapAfterStepBytes: heap(),
    estimateBytes: estimate.totalBytes,
    longestTrainingPairByEstimate: longestTrainingPair(config, backendLimit('wasm')),
  };
  disposeBench();
  process.stdout.write(JSON.stringify(result));
}

function parent(lengths: number[]) {
  const script = fileURLToPath(import.meta.url);
  const results = lengths.map((tokens) => {
    process.stderr.write(`wasm-step-memory: 2 × ${tokens} tokens\n`);
    const run = spawnSync(process.execPath, [...process.execArgv, script, CHILD, String(tokens)], { encoding: 'utf8', maxBuffer: 2 ** 24 });
    if (run.status === 0) return JSON.parse(run.stdout) as unknown;
    const lines = run.stderr.trim().split('\n');
    const why = lines.find((l) => /abort|out of memory|OOM|RangeError/i.test(l)) ?? lines.slice(-3).join(' | ');
    return { tokens, ...shapeOf(tokens), ran: false, exit: run.status ?? run.signal, error: why.trim() };
  });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

const args = process.argv.slice(2);
if (args[0] === CHILD) await child(Number(args[1]));
else {
  const lengths = args.map(Number);
  if (!lengths.length || lengths.some((n) => !Number.isInteger(n) || n < 3)) throw new Error('give the tokens of each sequence, e.g. 9 33 65 129');
  parent(lengths);
}
