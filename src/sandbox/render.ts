/**
 * Draws a sandbox scene as a 64×64 RGB picture, deterministically from the scene and a seed: the seed jitters each
 * shape's size and position, never its colour. Each group is drawn in its region (the whole picture for a single
 * group, the left or right half for two), `MARGIN` pixels in from the region's edges, and the shapes' bounding
 * boxes stay `GAP` pixels apart, so shapes never overlap or touch: every shape is one blob of its colour, which
 * is how the tests check the ground truth against the pixels. No anti-aliasing: a pixel is the shape's colour when
 * its centre is inside the shape, else the background's.
 *
 * Pure TS: no DOM, no Node.
 */
import { Prng } from '../models/prng';
import { groupsInOrder, type Background, type Colour, type Scene, type Shape, type Side } from './scene';

export const SCENE_SIZE = 64;

/** Plain RGB pixels, row-major, 3 bytes a pixel (the layout of transformers.js' RawImage with 3 channels). */
export interface SandboxImage {
  width: number;
  height: number;
  channels: 3;
  data: Uint8ClampedArray;
}

/** The world's colours as RGB bytes. */
export const PALETTE: Readonly<Record<Colour | Background, readonly [number, number, number]>> = {
  red: [220, 30, 30],
  green: [30, 180, 60],
  blue: [30, 60, 220],
  yellow: [235, 210, 40],
  white: [250, 250, 250],
  black: [10, 10, 10],
};

/** Half the side of a shape's bounding box, in pixels. */
export const SHAPE_RADIUS = { min: 4.5, max: 8 } as const;
const MARGIN = 2;
const GAP = 2;
const TRIES_PER_SHAPE = 100;
const TRIES_PER_GROUP = 20;
// A square is drawn a little inside its box, so that it does not look much larger than a circle of the same box.
const SQUARE_FILL = 0.85;

/** Where a shape is drawn: centre (cx, cy) and bounding-box half side r, in pixels. */
export interface Placement {
  cx: number;
  cy: number;
  r: number;
}

interface Region {
  x0: number;
  x1: number;
}

const REGIONS: Record<Side, Region> = {
  center: { x0: 0, x1: SCENE_SIZE },
  left: { x0: 0, x1: SCENE_SIZE / 2 },
  right: { x0: SCENE_SIZE / 2, x1: SCENE_SIZE },
};

/** Whether the point (dx, dy) from a shape's centre is inside it. */
function inside(shape: Shape, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= r * SQUARE_FILL && Math.abs(dy) <= r * SQUARE_FILL;
    case 'triangle':
      // apex up: the half width grows from 0 at the top of the box (dy = −r) to r at its base (dy = r)
      return dy >= -r && dy <= r && Math.abs(dx) <= (dy + r) / 2;
  }
}

const apart = (a: Placement, b: Placement) => Math.abs(a.cx - b.cx) >= a.r + b.r + GAP || Math.abs(a.cy - b.cy) >= a.r + b.r + GAP;

function tryPlace(prng: Prng, count: number, region: Region): Placement[] | null {
  const placed: Placement[] = [];
  for (let k = 0; k < count; k++) {
    const r = prng.uniform(SHAPE_RADIUS.min, SHAPE_RADIUS.max);
    let ok = false;
    for (let t = 0; t < TRIES_PER_SHAPE && !ok; t++) {
      const p = {
        cx: prng.uniform(region.x0 + MARGIN + r, region.x1 - MARGIN - r),
        cy: prng.uniform(MARGIN + r, SCENE_SIZE - MARGIN - r),
        r,
      };
      if (placed.every((q) => apart(p, q))) {
        placed.push(p);
        ok = true;
      }
    }
    if (!ok) return null;
  }
  return placed;
}

/**
 * A column of the smallest shapes, evenly spaced, which always fits: it keeps `layout` total should sampling fail
 * (it did not, in every scene of the world with seeds 0–19).
 */
function stacked(count: number, region: Region): Placement[] {
  const r = SHAPE_RADIUS.min;
  return Array.from({ length: count }, (_, k) => ({ cx: (region.x0 + region.x1) / 2, cy: ((k + 0.5) * SCENE_SIZE) / count, r }));
}

/** Where each shape of each group goes, groups left to right (as `groupsInOrder`), for this seed. */
export function layout(scene: Scene, seed: number): Placement[][] {
  const prng = new Prng(seed);
  return groupsInOrder(scene).map((group) => {
    const region = REGIONS[group.side];
    for (let t = 0; t < TRIES_PER_GROUP; t++) {
      const placed = tryPlace(prng, group.count, region);
      if (placed) return placed;
    }
    return stacked(group.count, region);
  });
}

/** The scene's picture for this seed: 64×64, RGB, row-major. */
export function renderScene(scene: Scene, seed: number): SandboxImage {
  const size = SCENE_SIZE;
  const data = new Uint8ClampedArray(size * size * 3);
  const bg = PALETTE[scene.background];
  for (let i = 0; i < size * size; i++) data.set(bg, i * 3);
  const groups = groupsInOrder(scene);
  layout(scene, seed).forEach((placements, g) => {
    const { shape, colour } = groups[g];
    for (const { cx, cy, r } of placements) {
      for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(size - 1, Math.ceil(cy + r)); y++) {
        for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(size - 1, Math.ceil(cx + r)); x++) {
          if (inside(shape, x + 0.5 - cx, y + 0.5 - cy, r)) data.set(PALETTE[colour], (y * size + x) * 3);
        }
      }
    }
  });
  return { width: size, height: size, channels: 3, data };
}
