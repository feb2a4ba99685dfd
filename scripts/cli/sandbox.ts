import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RawImage } from '@huggingface/transformers';
import { describeScene } from '../../src/sandbox/captions';
import { descriptionMetrics, judgeDescription } from '../../src/sandbox/judge';
import { renderScene } from '../../src/sandbox/render';
import { parseScene, SceneError, type Scene } from '../../src/sandbox/scene';
import { integerOption, requiredString, SEED_RANGE, UsageError, type Command } from './args';

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

const SUBCOMMANDS: Record<string, (args: string[]) => unknown> = { render, judge };

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
      metrics: { chairS, chairI, recall, unparsed, kinds, ... } }. The rules: docs/sandbox.md.`,
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
