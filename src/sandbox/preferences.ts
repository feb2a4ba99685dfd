/**
 * The bundled sandbox preference set: the Train tab's data and `aspo train --pairs sandbox` / `--eval sandbox`.
 * One pair per scene, prompt `Describe the picture.`; the chosen response is the correct description
 * (`describeScene`), the rejected one the same with sentences corrupted (`corruptDescription`): one sentence, and
 * in every third pair also an inserted absent object, so that some rejected responses hallucinate twice.
 * Training pairs are drawn from the training split (`sampleTrainingScene`, from `SANDBOX_SEED`), held-out pairs
 * are the first scenes of `HELD_OUT_SET`, each with its render seed: no run trains on a held-out combination.
 *
 * The pairs carry no similarities: `S_i` comes from the sandbox CLIP through the CLIP scorer, as for any data
 * without stored ones. Each pair's image is a key, `sandbox:train/<i>` or `sandbox:held-out/<i>`, that
 * `sandboxImage` draws.
 *
 * Pure TS: no DOM, no Node.
 */
import type { PreferencePair } from '../data/pairs';
import { Prng } from '../models/prng';
import { DESCRIBE_PROMPT, describeScene } from './captions';
import { corruptDescription, corruptionKindsFor, type Corruption } from './noise';
import { renderScene, type SandboxImage } from './render';
import type { Scene } from './scene';
import { HELD_OUT_SET, sampleTrainingScene } from './splits';

export const SANDBOX_TRAIN_SIZE = 24;
/** The scenes no run trains on, for held-out answers and metrics. */
export const SANDBOX_HELD_OUT_SIZE = 8;
export const SANDBOX_KEY_PREFIX = 'sandbox:';
/** Draws the training scenes, their render seeds and every corruption. */
export const SANDBOX_SEED = 12;

export type SandboxSplit = 'train' | 'held-out';

export interface SandboxPreference {
  pair: PreferencePair;
  scene: Scene;
  /** the render seed of the pair's picture */
  seed: number;
  /** what was corrupted, `sentence` counted in the rejected response's sentences */
  corruptions: Corruption[];
}

const pick = <T>(prng: Prng, items: readonly T[]): T => items[prng.int(items.length)];

/** The rejected sentences of pair `index`: one corruption of a kind the scene allows, plus an absent object in every third pair. */
function rejectedOf(scene: Scene, index: number, prng: Prng): { sentences: string[]; corruptions: Corruption[] } {
  const kinds = corruptionKindsFor(scene).filter((k) => index % 3 !== 2 || k !== 'absent-object');
  const first = corruptDescription(scene, pick(prng, kinds), prng);
  if (index % 3 !== 2) return { sentences: first.sentences, corruptions: [first.corruption] };
  // An absent object inserted where corruptDescription would insert one into the correct description.
  const inserted = corruptDescription(scene, 'absent-object', prng);
  const at = inserted.corruption.sentence;
  const sentences = [...first.sentences];
  sentences.splice(at, 0, inserted.sentences[at]);
  const moved = { ...first.corruption, sentence: first.corruption.sentence + (first.corruption.sentence >= at ? 1 : 0) };
  return { sentences, corruptions: [moved, inserted.corruption].sort((a, b) => a.sentence - b.sentence) };
}

function preference(split: SandboxSplit, index: number, scene: Scene, seed: number, prng: Prng): SandboxPreference {
  const { sentences, corruptions } = rejectedOf(scene, index, prng);
  const pair = { prompt: DESCRIBE_PROMPT, chosen: describeScene(scene), rejected: sentences.join(' '), image: `${SANDBOX_KEY_PREFIX}${split}/${index}` };
  return { pair, scene, seed, corruptions };
}

function build(): Record<SandboxSplit, SandboxPreference[]> {
  const prng = new Prng(SANDBOX_SEED);
  const train = Array.from({ length: SANDBOX_TRAIN_SIZE }, (_, i) => {
    const scene = sampleTrainingScene(prng);
    return preference('train', i, scene, prng.int(2 ** 32), prng);
  });
  const heldOut = HELD_OUT_SET.slice(0, SANDBOX_HELD_OUT_SIZE).map(({ scene, seed }, i) => preference('held-out', i, scene, seed, prng));
  return { train, 'held-out': heldOut };
}

let built: Record<SandboxSplit, SandboxPreference[]> | null = null;

/** Every sandbox pair with its scene, render seed and corruptions, identical on every run. */
export function sandboxPreferences(): Record<SandboxSplit, readonly SandboxPreference[]> {
  built ??= build();
  return built;
}

/** The bundled set: SANDBOX_TRAIN_SIZE training pairs and SANDBOX_HELD_OUT_SIZE held-out pairs (copies: callers may change them). */
export function sandboxPairs(): { train: PreferencePair[]; heldOut: PreferencePair[] } {
  const all = sandboxPreferences();
  return { train: all.train.map((p) => ({ ...p.pair })), heldOut: all['held-out'].map((p) => ({ ...p.pair })) };
}

/** The pair behind a `sandbox:<split>/<i>` key, or undefined for any other key. */
export function sandboxPreference(key: string): SandboxPreference | undefined {
  const m = /^sandbox:(train|held-out)\/(\d+)$/.exec(key);
  return m ? sandboxPreferences()[m[1] as SandboxSplit][Number(m[2])] : undefined;
}

/** The picture behind a sandbox key; a `sandbox:` key that names no pair (a saved one from an older version) throws, saying which keys exist. */
export function sandboxImage(key: string): SandboxImage {
  const found = sandboxPreference(key);
  if (!found) {
    throw new Error(
      `"${key}" is not a sandbox picture: the sandbox's are ${SANDBOX_KEY_PREFIX}train/0–${SANDBOX_TRAIN_SIZE - 1} and ` +
        `${SANDBOX_KEY_PREFIX}held-out/0–${SANDBOX_HELD_OUT_SIZE - 1} (the 32×32 world's ${SANDBOX_KEY_PREFIX}s00… are gone)`,
    );
  }
  return renderScene(found.scene, found.seed);
}
