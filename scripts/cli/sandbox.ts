import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RawImage } from '@huggingface/transformers';
import { ASPO_SETTINGS, settingProblem } from '../../src/aspo/settings';
import { loadClipScorer } from '../../src/models/clip';
import { describeScene } from '../../src/sandbox/captions';
import { descriptionMetrics, judgeDescription } from '../../src/sandbox/judge';
import { renderScene } from '../../src/sandbox/render';
import { parseScene, SceneError, type Scene } from '../../src/sandbox/scene';
import { HELD_OUT_SET } from '../../src/sandbox/splits';
import { ANSWER_TOKENS, DEFAULT_DESCRIPTION_TOKENS, evaluateSandbox } from '../../src/state/sandbox/evaluate';
import { SANDBOX_CLIP_DIR } from './train';
import { nodeFolderSource } from '../lib/nodeModelSource';
import { integerOption, numberOption, requiredString, SEED_RANGE, UsageError, type Command } from './args';
import { BACKEND_HELP } from './backend';
import { ENGINE_HELP, ENGINE_OPTIONS, ENGINE_USAGE, engineChoice, loadEngine, MAX_NEW_TOKENS } from './engine';

function sceneOption(values: Record<string, unknown>): Scene {
  try {
    return parseScene(requiredString(values, 'scene'));
  } catch (err) {
    if (err instanceof SceneError) throw new UsageError(`--scene: ${err.message}`);
    throw err;
  }
}

// The sandbox draws and judges in plain TypeScript: a --backend would change nothing, so it is refused, not ignored.
function refuseBackend(values: Record<string, unknown>, subcommand: string): void {
  if (values.backend !== undefined) throw new UsageError(`--backend chooses TF.js' backend, and sandbox ${subcommand} runs no TF.js; leave out --backend`);
}

/** --out, checked before any work: a .png path that is not a folder, nor an existing file unless --overwrite. */
function outOption(values: Record<string, unknown>): string {
  const out = resolve(requiredString(values, 'out'));
  if (!/\.png$/i.test(out)) throw new UsageError(`--out must name a .png file, got "${String(values.out)}"`);
  if (existsSync(out)) {
    if (statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a folder; give a .png file`);
    if (!values.overwrite) throw new UsageError(`--out ${out} already exists; add --overwrite to replace it`);
  }
  return out;
}

async function render(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { scene: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean' }, backend: { type: 'string' } },
  });
  refuseBackend(values, 'render');
  const scene = sceneOption(values);
  const seed = integerOption(values, 'seed', SEED_RANGE) ?? 0;
  const out = outOption(values);
  const image = renderScene(scene, seed);
  mkdirSync(dirname(out), { recursive: true });
  await new RawImage(image.data, image.width, image.height, image.channels).save(out);
  return { out, width: image.width, height: image.height, seed, scene, description: describeScene(scene) };
}

function judge(args: string[]) {
  const { values } = parseArgs({ args, options: { scene: { type: 'string' }, text: { type: 'string' }, backend: { type: 'string' } } });
  refuseBackend(values, 'judge');
  const scene = sceneOption(values);
  const judged = judgeDescription(scene, requiredString(values, 'text'));
  return { scene, sentences: judged.sentences, facts: judged.facts, metrics: descriptionMetrics([judged]) };
}

/** The bundled sandbox CLIP, eval's default --clip. */

async function evaluate(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      ...ENGINE_OPTIONS,
      clip: { type: 'string' },
      scenes: { type: 'string' },
      seed: { type: 'string' },
      alpha: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      'per-scene': { type: 'boolean', default: false },
    },
  });
  const choice = engineChoice(values);
  const count = integerOption(values, 'scenes', { min: 1, max: HELD_OUT_SET.length }) ?? HELD_OUT_SET.length;
  const seed = integerOption(values, 'seed', SEED_RANGE) ?? 0;
  const alpha = numberOption(values, 'alpha', ASPO_SETTINGS.alpha.default);
  const alphaProblem = settingProblem(ASPO_SETTINGS.alpha, alpha);
  if (alphaProblem) throw new UsageError(`--alpha: ${alphaProblem}`);
  const maxNewTokens = integerOption(values, 'max-new-tokens', { min: 1, max: MAX_NEW_TOKENS }) ?? DEFAULT_DESCRIPTION_TOKENS;
  const clipDir = values.clip ?? SANDBOX_CLIP_DIR;
  const clip = await loadClipScorer(nodeFolderSource(clipDir), { device: 'cpu' });
  try {
    const { engine, backend } = await loadEngine(choice);
    try {
      let reported = -1;
      const evaluation = await evaluateSandbox({
        engine,
        clip,
        scenes: HELD_OUT_SET.slice(0, count),
        seed,
        maxNewTokens,
        settings: { alpha },
        onProgress: ({ done, total }) => {
          if (done === reported) return;
          reported = done;
          process.stderr.write(`aspo sandbox eval: ${done} of ${total} scenes\n`);
        },
      });
      for (const [i, s] of evaluation.perScene.entries()) for (const notice of s.notices) process.stderr.write(`aspo sandbox eval: scene ${i + 1}: ${notice}\n`);
      const { perScene, ...figures } = evaluation;
      return {
        ...figures,
        ...(values['per-scene'] ? { perScene } : {}),
        model: resolve(choice.model),
        adapter: choice.adapter === null ? null : resolve(choice.adapter),
        clip: resolve(clipDir),
        engine: choice.kind === 'onnx' ? { kind: 'onnx', dtype: choice.dtype } : { kind: 'tfjs' },
        backend,
      };
    } finally {
      engine.dispose();
    }
  } finally {
    clip.dispose();
  }
}

const SUBCOMMANDS: Record<string, (args: string[]) => unknown> = { render, judge, eval: evaluate };

export const sandboxCommand: Command = {
  usage: `sandbox render --scene JSON [--seed N] --out PNG [--overwrite]
      draws the scene as a 64×64 RGB PNG; the seed (an integer from 0 to ${SEED_RANGE.max}, default 0) places and
      sizes the shapes. Refuses to replace an existing file without --overwrite. Prints { out, width, height, seed,
      scene, description } (description: the scene's correct description). JSON is a scene:
      {"background":"white"|"black","groups":[{"count":1|2|3,"colour":"red"|"green"|"blue"|"yellow",
      "shape":"circle"|"square"|"triangle","side":"center"}]}, or two groups with sides "left" and "right" that
      differ in shape or colour (docs/sandbox.md).

  sandbox judge --scene JSON --text TEXT
      splits TEXT into sentences and judges each against the scene: verdict correct, hallucinated (with its kind:
      colour, shape, count, side, background, absent-object) or unparsed (not exactly one of the sentence forms);
      prints { scene, sentences: [{ text, start, end, verdict, kind?, claim? }], facts: [{ sentence, stated }],
      metrics: { chairS, chairI, recall, unparsed, kinds, ... } }. The rules: docs/sandbox.md.

  sandbox eval ${ENGINE_USAGE}
      [--clip DIR] [--scenes N] [--seed S] [--alpha A] [--max-new-tokens N] [--per-scene]
      the model on the first N held-out scenes (default all ${HELD_OUT_SET.length}), greedy: its description for "Describe the
      picture." judged (chairS, chairI, recall, unparsed), the yes/no probes (accuracy, precision, recall, yes-ratio)
      and how-many questions (accuracy); and how well the Inspect tab's Ŝ_i, P̂_i and w_i at α = A (default
      ${ASPO_SETTINGS.alpha.default}) separate correct from hallucinated sentences (AUROC, null without both), over the greedy descriptions and one
      corrupted correct description per scene pooled, and over the greedy ones alone. S_i comes from the CLIP in DIR
      (default the bundled sandbox CLIP, ${relative(process.cwd(), SANDBOX_CLIP_DIR)}). The seed (default 0) draws the probes' negatives
      and the corruptions. A description takes at most N new tokens (default ${DEFAULT_DESCRIPTION_TOKENS}), an answer ${ANSWER_TOKENS}. Prints
      { scenes, seed, maxNewTokens, settings, descriptions, cutDescriptions, yesNo, howMany,
      separation: { pooled, greedy }, model, adapter, clip, engine, backend }, and with --per-scene every scene's
      texts, verdicts and numbers; stderr counts the scenes done. What is scored: docs/sandbox.md.
      ${ENGINE_HELP}
      ${BACKEND_HELP}`,
  async run(args) {
    const [subcommand, ...rest] = args;
    const run = subcommand !== undefined && Object.hasOwn(SUBCOMMANDS, subcommand) ? SUBCOMMANDS[subcommand] : undefined;
    if (!run) {
      const known = Object.keys(SUBCOMMANDS).join(', ');
      throw new UsageError(subcommand === undefined ? `sandbox needs a subcommand: ${known}` : `unknown sandbox subcommand "${subcommand}" (known: ${known})`);
    }
    return run(rest);
  },
};
