import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RawImage } from '@huggingface/transformers';
import { parsePairsJsonl, type PreferencePair } from '../../src/data/pairs';
import { SANDBOX_KEY_PREFIX, sandboxPairs, sandboxSentenceSimilarities } from '../../src/data/sandbox';
import { decodeUtf8 } from '../../src/data/utf8';
import type { BatchMetrics } from '../../src/aspo/objective';
import { loadTfjsEngine } from '../../src/models/tfjs/engine';
import { exportPeftAdapter } from '../../src/train/peft';
import { resolveSettings, type TrainSettingsInput } from '../../src/train/settings';
import { loraOptions, sandboxImageLoader, Trainer, type ImageLoader, type SimilarityFn, type StepReport } from '../../src/train/trainer';
import { nodeFolderSource } from '../lib/nodeModelSource';
import { integerOption, numberOption, requiredString, SEED_RANGE, UsageError, type Command } from './args';

/** One line of metrics.jsonl: the step, its learning rate and the metrics under TRL's names. */
export function metricsLine(report: StepReport): Record<string, unknown> {
  const line: Record<string, unknown> = { step: report.step, lr: report.lr };
  for (const [k, v] of Object.entries(report.metrics as BatchMetrics)) line[k] = v;
  line.grad_norm = report.gradNorm;
  line.ms = Math.round(report.ms);
  if (report.skipped) line.skipped = report.skipped;
  if (report.notices.length > 0) line.notices = report.notices;
  return line;
}

function optionalNumber(values: Record<string, unknown>, name: string): number | undefined {
  return values[name] === undefined ? undefined : numberOption(values, name, 0);
}

function oneOf<T extends string>(values: Record<string, unknown>, name: string, allowed: readonly T[]): T | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${String(v)}"`);
  }
  return v as T;
}

/** Where the command reports skipped lines and notices (stderr in the CLI; a collector in tests). */
export type Warn = (line: string) => void;

const toStderr: Warn = (line) => process.stderr.write(`aspo train: ${line}\n`);

export const trainCommand: Command & { runWith(args: string[], warn: Warn): Promise<unknown> } = {
  usage: `train --model DIR --pairs JSONL --objective dpo|aspo --steps N --seed S --out DIR
      [--alpha A] [--beta B] [--normalization mean|reward-ratio|none] [--granularity sentence|response|token]
      [--perplexity-source policy|reference] [--rank R] [--lora-alpha LA (default 2·R)] [--lr LR] [--warmup W]
      [--batch-size B] [--max-seq-len L] [--grad-clip C] [--base-model ID] [--eval JSONL|sandbox]
      LoRA fine-tuning with DPO or ASPO on the CPU backend, with the same trainer as the tab. The JSONL holds
      { prompt, chosen, rejected, image?, similarity? } per line (image: a path relative to the file); bad lines
      are reported on stderr with their number and skipped. ASPO with α > 0 needs similarity.chosen per pair
      (sandbox:<id> images get the sandbox's stand-in scores). --pairs sandbox / --eval sandbox use the bundled
      sandbox world (24 training / 8 held-out pairs, for the tiny SmolVLM). Writes adapter_model.safetensors and
      adapter_config.json (PEFT) and metrics.jsonl (one line per step) into --out; prints a summary, with the
      --eval metrics before and after training.`,
  run(args) {
    return this.runWith(args, toStderr);
  },
  async runWith(args, warn) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        pairs: { type: 'string' },
        objective: { type: 'string' },
        alpha: { type: 'string' },
        beta: { type: 'string' },
        normalization: { type: 'string' },
        granularity: { type: 'string' },
        'perplexity-source': { type: 'string' },
        rank: { type: 'string' },
        'lora-alpha': { type: 'string' },
        lr: { type: 'string' },
        warmup: { type: 'string' },
        'batch-size': { type: 'string' },
        'max-seq-len': { type: 'string' },
        'grad-clip': { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'base-model': { type: 'string' },
        eval: { type: 'string' },
      },
    });
    const modelDir = requiredString(values, 'model');
    const pairsFile = requiredString(values, 'pairs');
    const out = requiredString(values, 'out');
    const objective = oneOf(values, 'objective', ['dpo', 'aspo'] as const);
    if (!objective) throw new UsageError('--objective is required (dpo or aspo)');
    const steps = integerOption(values, 'steps', { min: 1 });
    if (steps === undefined) throw new UsageError('--steps is required');
    const rank = integerOption(values, 'rank', { min: 1 });
    const loraAlpha = optionalNumber(values, 'lora-alpha') ?? (rank !== undefined ? 2 * rank : undefined);
    const input: TrainSettingsInput = {
      objective,
      alpha: optionalNumber(values, 'alpha'),
      beta: optionalNumber(values, 'beta'),
      normalization: oneOf(values, 'normalization', ['mean', 'reward-ratio', 'none'] as const),
      granularity: oneOf(values, 'granularity', ['sentence', 'response', 'token'] as const),
      perplexitySource: oneOf(values, 'perplexity-source', ['policy', 'reference'] as const),
      lr: optionalNumber(values, 'lr'),
      warmupSteps: integerOption(values, 'warmup', { min: 0 }),
      batchSize: integerOption(values, 'batch-size', { min: 1 }),
      maxSeqLen: integerOption(values, 'max-seq-len', { min: 1 }),
      gradClipNorm: optionalNumber(values, 'grad-clip'),
      steps,
      seed: integerOption(values, 'seed', SEED_RANGE) ?? 0,
      lora: { ...(rank !== undefined ? { r: rank } : {}), ...(loraAlpha !== undefined ? { alpha: loraAlpha } : {}) },
    };
    for (const key of Object.keys(input) as (keyof TrainSettingsInput)[]) if (input[key] === undefined) delete input[key];
    let settings;
    try {
      settings = resolveSettings(input);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }

    const read = (file: string, role: string): { pairs: PreferencePair[]; base: string; skipped: number[] } => {
      if (file === 'sandbox') {
        const { train, heldOut } = sandboxPairs();
        return { pairs: role === 'training' ? train : heldOut, base: process.cwd(), skipped: [] };
      }
      const { pairs, errors } = parsePairsJsonl(decodeUtf8(readFileSync(file), file), file);
      for (const e of errors) warn(`skipped line ${e.line}: ${e.message}`);
      if (pairs.length === 0) throw new Error(`${file} holds no valid pair`);
      return { pairs, base: dirname(resolve(file)), skipped: errors.map((e) => e.line) };
    };
    const training = read(pairsFile, 'training');
    const evaluation = typeof values.eval === 'string' ? read(values.eval, 'evaluation') : undefined;
    const { pairs } = training;
    // Images are paths relative to their own JSONL file.
    const bases = new Map<PreferencePair, string>();
    for (const set of [training, evaluation]) for (const p of set?.pairs ?? []) bases.set(p, set!.base);
    const loadImage: ImageLoader = (key, pair) =>
      key.startsWith(SANDBOX_KEY_PREFIX) ? sandboxImageLoader(key, pair) : RawImage.read(resolve(bases.get(pair) ?? process.cwd(), key));
    const similarity: SimilarityFn = async (pair, sentences) => {
      if (pair.image?.startsWith(SANDBOX_KEY_PREFIX)) return sandboxSentenceSimilarities(pair, sentences);
      throw new Error(
        `a pair (prompt ${JSON.stringify(pair.prompt.slice(0, 40))}) has no similarity.chosen: ASPO with α > 0 needs S_i per chosen sentence ` +
          '(score them with `npm run aspo -- similarity`), or use --alpha 0 (ASPO-P) or --objective dpo',
      );
    };

    const engine = await loadTfjsEngine(nodeFolderSource(modelDir), { lora: loraOptions(settings) });
    const trainer = new Trainer({ engine, pairs, settings, loadImage, similarity });
    try {
      await trainer.prepare();
      for (const n of trainer.notices) warn(n);
      const evalBefore = evaluation ? await trainer.evaluate(evaluation.pairs) : undefined;
      mkdirSync(out, { recursive: true });
      const metricsPath = join(out, 'metrics.jsonl');
      writeFileSync(metricsPath, '');
      const started = performance.now();
      let last: StepReport | undefined;
      let skipped = 0;
      while (!trainer.done) {
        last = await trainer.step();
        if (last.skipped) skipped += 1;
        writeFileSync(metricsPath, `${JSON.stringify(metricsLine(last))}\n`, { flag: 'a' });
      }
      const files = await exportPeftAdapter(engine.model.lora, { baseModel: values['base-model'] ?? resolve(modelDir) });
      writeFileSync(join(out, 'adapter_model.safetensors'), files['adapter_model.safetensors']);
      writeFileSync(join(out, 'adapter_config.json'), files['adapter_config.json']);
      const seconds = (performance.now() - started) / 1000;
      const evalAfter = evaluation ? await trainer.evaluate(evaluation.pairs) : undefined;
      for (const n of evalAfter?.notices ?? []) warn(n);
      return {
        out: resolve(out),
        files: ['adapter_model.safetensors', 'adapter_config.json', 'metrics.jsonl'],
        pairs: pairs.length,
        skippedLines: training.skipped,
        steps: trainer.stepsDone,
        skippedSteps: skipped,
        secondsPerStep: trainer.stepsDone > 0 ? seconds / trainer.stepsDone : 0,
        first: trainer.history[0]?.metrics,
        last: last?.metrics,
        ...(evaluation ? { eval: { pairs: evalAfter!.pairs, skippedLines: evaluation.skipped, before: evalBefore!.metrics, after: evalAfter!.metrics } } : {}),
        settings,
      };
    } finally {
      trainer.dispose();
      engine.dispose();
    }
  },
};
