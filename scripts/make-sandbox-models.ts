/**
 * The sandbox models (issue 12), trained from scratch on the sandbox world and written in exact Hugging Face
 * layout, one folder each beside the tiny models in tests/fixtures/models/, the one folder of bundled models: the
 * app serves it at /models/ and copies it into its build (scripts/lib/bundledModels.ts), the tests read it there.
 *
 *   npm run models:sandbox                 every sandbox model
 *   npm run models:sandbox -- --only clip  one of them (models:sandbox:clip says the same)
 *     [--seed N] [--steps N] [--batch N] [--patch N] [--lr X] [--out DIR]
 *
 * Models, by the name `--only` takes:
 *   clip   sandbox-clip/  CLIPModel: contrastive (image, sentence) training with hard negatives
 *          (scripts/sandbox-models/clip.ts), then evaluated on the held-out scenes through the app's
 *          own CLIP scorer; the figures go into its README.md (stdout has them also for as many training
 *          scenes, `trainingScenes`: a failure to learn and one to generalise look different there)
 * Each model is a `SandboxModel`: one more (the VLM) is one more entry of SANDBOX_MODELS.
 * Training runs on TF.js' WASM backend; progress goes to stderr, a summary per model to stdout (JSON).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { FIXTURE_MODELS, nodeFolderSource } from './lib/nodeModelSource';
import { loadClipScorer } from '../src/models/clip';
import { integerOption, numberOption, SEED_RANGE, UsageError } from './cli/args';
import { writeModel } from './make-tiny-models';
import { CLIP_EVAL_SEED, evaluateClip, trainingScenePairs, type ClipEvaluation, type PairFigures } from './sandbox-models/clipPairs';
import { HELD_OUT_SET } from '../src/sandbox/splits';
import { SANDBOX_CLIP_DEFAULTS, SANDBOX_CLIP_NAME, trainSandboxClip } from './sandbox-models/clip';

interface RunOptions {
  seed?: number;
  steps?: number;
  batch?: number;
  patch?: number;
  lr?: number;
  out: string;
  log: (line: string) => void;
}

interface SandboxModel {
  folder: string;
  build(o: RunOptions): Promise<Record<string, unknown>>;
}

const pct = (f: PairFigures) => `${(100 * f.share).toFixed(1)} %`;

/** The README of the sandbox CLIP: what it is, how it was made, its held-out figures. */
export function sandboxClipReadme(o: { seed: number; steps: number; batch: number }, e: ClipEvaluation | null): string {
  const rows = e
    ? Object.entries(e.byKind)
        .map(([kind, f]) => `| ${kind} | ${f.pairs} | ${pct(f)} | ${f.auroc.toFixed(3)} |`)
        .join('\n')
    : '';
  const figures = e
    ? `## Held-out figures\n\nOn the ${'`HELD_OUT_SET`'} scenes (src/sandbox/splits.ts), \`S_i\` (\`clipSimilarity\`, Eq. 6, through the ` +
      'ONNX CLIP scorer src/models/clip.ts) of a true sentence against the same sentence made false ' +
      '(scripts/sandbox-models/clipPairs.ts):\n\n' +
      `**${pct(e.sameSentence)}** of ${e.sameSentence.pairs} pairs have the true sentence higher; AUROC ${e.sameSentence.auroc.toFixed(3)}.\n\n` +
      '| made false by | pairs | true > false | AUROC |\n|---|---|---|---|\n' +
      `${rows}\n\n(\`absent-object\`: \`There is a dog.\` and the like against a true sentence of the scene; not in the total.)\n`
    : '';
  return (
    '# sandbox-clip\n\n' +
    'A tiny `CLIPModel` (openai/clip-vit-base-patch32 layout: CLIPTokenizer, CLIPImageProcessor, F32 weights, ONNX ' +
    'towers) trained from scratch on the sandbox world (docs/sandbox.md) by `npm run models:sandbox -- --only clip` ' +
    `(scripts/sandbox-models/clip.ts), seed ${o.seed}, ${o.steps} steps of ${o.batch} training scenes, on TF.js' WASM backend. ` +
    "The loss is CLIP's InfoNCE of each scene against every sentence of the language, with exact ground truth, plus " +
    'hard pairs: a true sentence of the scene against the same sentence made false. Input 64×64, patch 16; text and ' +
    'vision width 64, 2 layers each; projection 32; its tokenizer is a byte-level BPE of the caption language, one ' +
    'token per word.\n\n' +
    figures
  );
}

const SANDBOX_MODELS: Record<string, SandboxModel> = {
  clip: {
    folder: SANDBOX_CLIP_NAME,
    async build(o) {
      const options = {
        ...SANDBOX_CLIP_DEFAULTS,
        ...(o.seed !== undefined && { seed: o.seed }),
        ...(o.steps !== undefined && { steps: o.steps }),
        ...(o.batch !== undefined && { batch: o.batch }),
        ...(o.patch !== undefined && { patch: o.patch }),
        ...(o.lr !== undefined && { lr: o.lr }),
        log: o.log,
      };
      const { model, losses, seconds } = await trainSandboxClip(options);
      const dir = join(o.out, SANDBOX_CLIP_NAME);
      rmSync(dir, { recursive: true, force: true });
      const files = Object.fromEntries(Object.entries(model.files).filter(([name]) => name !== 'README.md'));
      await writeModel(o.out, { ...model, files });
      o.log(`sandbox-clip: trained in ${seconds.toFixed(0)} s; evaluating on the held-out scenes`);
      const scorer = await loadClipScorer(nodeFolderSource(dir), { device: 'cpu' });
      const evaluation = await evaluateClip(scorer);
      const trainingScenes = await evaluateClip(scorer, trainingScenePairs(HELD_OUT_SET.length, CLIP_EVAL_SEED));
      scorer.dispose();
      await writeModel(o.out, { ...model, files: { 'README.md': sandboxClipReadme(options, evaluation) } });
      return { model: dir, seconds: Math.round(seconds), finalLoss: losses[losses.length - 1], ...evaluation, trainingScenes };
    },
  },
};

const USAGE = 'usage: npm run models:sandbox -- [--only clip] [--seed N] [--steps N] [--batch N] [--patch N] [--lr X] [--out DIR]';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { only: { type: 'string' }, seed: { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' }, patch: { type: 'string' }, lr: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  });
  const names = values.only === undefined ? Object.keys(SANDBOX_MODELS) : values.only.split(',');
  for (const n of names) if (!(n in SANDBOX_MODELS)) throw new UsageError(`--only: no sandbox model "${n}" (there is: ${Object.keys(SANDBOX_MODELS).join(', ')})`);
  const o: RunOptions = {
    seed: integerOption(values, 'seed', SEED_RANGE),
    steps: integerOption(values, 'steps', { min: 1 }),
    batch: integerOption(values, 'batch', { min: 2 }),
    patch: integerOption(values, 'patch', { min: 1, max: 64 }),
    lr: values.lr === undefined ? undefined : numberOption(values, 'lr', 0),
    out: values.out ?? FIXTURE_MODELS,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  for (const n of names) console.log(JSON.stringify({ [n]: await SANDBOX_MODELS[n].build(o) }, null, 2));
}

if (/make-sandbox-models\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    if (e instanceof UsageError) console.error(USAGE);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  });
}
