/**
 * The sandbox world: a small, deterministic, bundled preference set for the tiny models, so that training can
 * be shown offline in seconds. Each scene is a 32×32 RGB picture of one to three shapes of one colour on a plain
 * background, drawn in code, so its ground truth is exact. Chosen answers describe it correctly; rejected answers
 * hallucinate in some of their sentences (a wrong colour, shape or count, or an object that is not there).
 *
 * Similarities: ASPO-S needs a CLIP score per sentence (Eq. 6). The sandbox has no CLIP model, so
 * `sandboxSimilarity` is a **stand-in**: a deterministic score in CLIP's usual range (≈0.1–0.35) computed from the
 * ground truth — higher for a sentence that names the scene's true colour, shape, count or background, lower for
 * one that names a wrong one or an absent object. It is stored in each pair's `similarity.chosen`. Real data is
 * scored by the CLIP scorer (another module); the trainer takes similarities from the pair or from a callback.
 *
 * Pure TS: no DOM, no Node.
 */
import type { PreferencePair } from './pairs';
import { splitSentences } from '../aspo/sentences';

export const SANDBOX_SIZE = 32;
export const SANDBOX_KEY_PREFIX = 'sandbox:';

export type SandboxShape = 'circle' | 'square' | 'triangle';
export type SandboxColour = 'red' | 'green' | 'blue' | 'yellow';
export type SandboxBackground = 'white' | 'black';

export interface SandboxScene {
  id: string;
  shape: SandboxShape;
  colour: SandboxColour;
  count: 1 | 2 | 3;
  background: SandboxBackground;
}

/** Plain RGB pixels, row-major, 3 bytes a pixel (the layout of transformers.js' RawImage with 3 channels). */
export interface SandboxImage {
  width: number;
  height: number;
  channels: 3;
  data: Uint8ClampedArray;
}

export const SHAPES: readonly SandboxShape[] = ['circle', 'square', 'triangle'];
export const COLOURS: readonly SandboxColour[] = ['red', 'green', 'blue', 'yellow'];
/** The sandbox's colours as RGB bytes (also the 64×64 world's: src/sandbox/render.ts). */
export const PALETTE: Readonly<Record<SandboxColour | SandboxBackground, readonly [number, number, number]>> = {
  red: [220, 30, 30],
  green: [30, 180, 60],
  blue: [30, 60, 220],
  yellow: [235, 210, 40],
  white: [250, 250, 250],
  black: [10, 10, 10],
};
const COUNT_WORDS = ['zero', 'one', 'two', 'three', 'four'];
const ABSENT_OBJECTS = ['dog', 'cat', 'car', 'tree', 'person', 'cup'];

/** 32 scenes: the first 24 are the training split, the last 8 the held-out split. */
export const SANDBOX_SCENES: readonly SandboxScene[] = Array.from({ length: 32 }, (_, i) => ({
  id: `s${String(i).padStart(2, '0')}`,
  shape: SHAPES[i % 3],
  colour: COLOURS[Math.floor(i / 3) % 4],
  count: ((Math.floor(i / 2) % 3) + 1) as 1 | 2 | 3,
  background: (Math.floor(i / 5) % 2 === 0 ? 'white' : 'black') as SandboxBackground,
}));

export const SANDBOX_TRAIN_SIZE = 24;
/** The scenes no run trains on, for held-out answers and metrics. */
export const SANDBOX_HELD_OUT_SIZE = SANDBOX_SCENES.length - SANDBOX_TRAIN_SIZE;

function inside(shape: SandboxShape, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
    case 'triangle': {
      // apex up: at height dy (−r at the top, +r at the base) the half width grows from 0 to r
      if (dy < -r || dy > r) return false;
      return Math.abs(dx) <= ((dy + r) / (2 * r)) * r;
    }
  }
}

/** Draws a scene: the shapes side by side, centred vertically. */
export function renderScene(scene: SandboxScene, size = SANDBOX_SIZE): SandboxImage {
  const data = new Uint8ClampedArray(size * size * 3);
  const bg = PALETTE[scene.background];
  const fg = PALETTE[scene.colour];
  const r = size / (2 * scene.count + 2);
  const centres = Array.from({ length: scene.count }, (_, k) => ((k + 0.5) * size) / scene.count);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const cy = size / 2;
      const hit = centres.some((cx) => inside(scene.shape, x + 0.5 - cx, y + 0.5 - cy, r));
      const c = hit ? fg : bg;
      data.set(c, (y * size + x) * 3);
    }
  }
  return { width: size, height: size, channels: 3, data };
}

/** The picture behind a `sandbox:<id>` key, or undefined for a key that is not the sandbox's. */
export function sandboxImage(key: string): SandboxImage | undefined {
  if (!key.startsWith(SANDBOX_KEY_PREFIX)) return undefined;
  const scene = SANDBOX_SCENES.find((s) => s.id === key.slice(SANDBOX_KEY_PREFIX.length));
  return scene ? renderScene(scene) : undefined;
}

export function sandboxScene(key: string): SandboxScene | undefined {
  if (!key.startsWith(SANDBOX_KEY_PREFIX)) return undefined;
  return SANDBOX_SCENES.find((s) => s.id === key.slice(SANDBOX_KEY_PREFIX.length));
}

function plural(shape: string, n: number): string {
  return n === 1 ? shape : `${shape}s`;
}

function hash01(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 4294967296;
}

const WORD = (w: string) => new RegExp(`\\b${w}\\b`, 'i');

/**
 * Stand-in for CLIP's `cos(E_text(s), E_img(I))` on a sandbox scene: 0.2, plus 0.05 for each true attribute the
 * sentence names (colour, shape, count, background), minus 0.1 for each false one and 0.08 for an absent object,
 * plus a deterministic jitter of ±0.005 so that no two sentences tie by accident.
 */
export function sandboxSimilarity(scene: SandboxScene, sentence: string): number {
  let s = 0.2;
  for (const colour of [...COLOURS, 'white', 'black']) {
    if (!WORD(colour).test(sentence)) continue;
    const truth = colour === scene.colour || colour === scene.background;
    s += truth ? 0.05 : -0.1;
  }
  for (const shape of SHAPES) {
    if (!new RegExp(`\\b${shape}s?\\b`, 'i').test(sentence)) continue;
    s += shape === scene.shape ? 0.05 : -0.1;
  }
  COUNT_WORDS.forEach((word, n) => {
    if (n === 0 || !WORD(word).test(sentence)) return;
    s += n === scene.count ? 0.05 : -0.1;
  });
  for (const object of ABSENT_OBJECTS) if (WORD(object).test(sentence)) s -= 0.08;
  return Math.round((s + (hash01(`${scene.id}|${sentence}`) - 0.5) * 0.01) * 1e6) / 1e6;
}

function countPhrase(n: number): string {
  return n === 1 ? 'There is exactly one shape.' : `There are exactly ${COUNT_WORDS[n]} shapes.`;
}

function describeScene(scene: SandboxScene, variant: number): string[] {
  const n = scene.count;
  return [
    `The image shows ${COUNT_WORDS[n]} ${scene.colour} ${plural(scene.shape, n)}.`,
    variant % 2 === 0 ? `The background is ${scene.background}.` : `${n === 1 ? 'It sits' : 'They sit'} on a ${scene.background} background.`,
    countPhrase(n),
  ];
}

/** The correct answer and a hallucinating one; three kinds of hallucination, by scene index. */
function answers(scene: SandboxScene, index: number): { chosen: string; rejected: string } {
  const chosen = describeScene(scene, index);
  const wrongColour = COLOURS[(COLOURS.indexOf(scene.colour) + 1 + (index % 3)) % 4];
  const wrongShape = SHAPES[(SHAPES.indexOf(scene.shape) + 1 + (index % 2)) % 3];
  const wrongCount = ((scene.count % 3) + 1) as 1 | 2 | 3;
  const absent = ABSENT_OBJECTS[index % ABSENT_OBJECTS.length];
  const rejected = chosen.slice();
  switch (index % 3) {
    case 0: // wrong colour
      rejected[0] = `The image shows ${COUNT_WORDS[scene.count]} ${wrongColour} ${plural(scene.shape, scene.count)}.`;
      break;
    case 1: // wrong shape and wrong count
      rejected[0] = `The image shows ${COUNT_WORDS[wrongCount]} ${scene.colour} ${plural(wrongShape, wrongCount)}.`;
      rejected[2] = countPhrase(wrongCount);
      break;
    default: // an object that is not there
      rejected[1] = `A small ${absent} is standing next to ${scene.count === 1 ? 'it' : 'them'}.`;
      break;
  }
  return { chosen: chosen.join(' '), rejected: rejected.join(' ') };
}

/**
 * A `similarity` callback for the trainer: the stand-in score of each sentence against the sandbox scene of
 * the pair's image. Throws for a pair whose image is not a sandbox key (real images need the CLIP scorer).
 */
export async function sandboxSentenceSimilarities(pair: PreferencePair, sentences: string[]): Promise<number[]> {
  const scene = pair.image !== undefined ? sandboxScene(pair.image) : undefined;
  if (!scene) throw new Error(`no sandbox scene for image ${JSON.stringify(pair.image ?? null)}; real images need the CLIP scorer`);
  return sentences.map((s) => sandboxSimilarity(scene, s.trim()));
}

const PROMPTS = ['Describe the image.', 'What do you see in this picture?'];

/** The sandbox pair of one scene, with the stand-in similarities of its chosen sentences. */
export function sandboxPair(scene: SandboxScene, index: number): PreferencePair {
  const { chosen, rejected } = answers(scene, index);
  const similarity = splitSentences(chosen).map((s) => sandboxSimilarity(scene, s.text.trim()));
  return {
    prompt: PROMPTS[index % PROMPTS.length],
    chosen,
    rejected,
    image: `${SANDBOX_KEY_PREFIX}${scene.id}`,
    similarity: { chosen: similarity },
  };
}

/** The bundled set: 24 training pairs and 8 held-out pairs (different scenes), identical on every run. */
export function sandboxPairs(): { train: PreferencePair[]; heldOut: PreferencePair[] } {
  const all = SANDBOX_SCENES.map((scene, i) => sandboxPair(scene, i));
  return { train: all.slice(0, SANDBOX_TRAIN_SIZE), heldOut: all.slice(SANDBOX_TRAIN_SIZE) };
}

/**
 * A text-only variant in which every answer is a single sentence (for the tiny SmolLM2 and for the check that
 * ASPO equals DPO when `K = 1`): the prompt names the scene, the chosen answer states it, the rejected one
 * hallucinates.
 */
export function sandboxSingleSentencePairs(): PreferencePair[] {
  return SANDBOX_SCENES.slice(0, 8).map((scene, i) => {
    const n = scene.count;
    const { rejected } = answers(scene, i);
    const wrong = splitSentences(rejected)[i % 3 === 2 ? 1 : 0].text.trim();
    return {
      prompt: `In one sentence: what is in a picture of ${COUNT_WORDS[n]} ${scene.colour} ${plural(scene.shape, n)}?`,
      chosen: `The image shows ${COUNT_WORDS[n]} ${scene.colour} ${plural(scene.shape, n)}.`,
      rejected: wrong,
    };
  });
}
