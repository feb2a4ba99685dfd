import { describe, expect, it } from 'vitest';
import { Prng } from '../models/prng';
import { layout, PALETTE, renderScene, SCENE_SIZE } from './render';
import { parseScene, sceneKey, type Scene } from './scene';
import { allScenes } from './splits';

interface Blob {
  colour: string;
  pixels: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** pixels in the upper and the lower half of its box */
  upper: number;
  lower: number;
}

const NAMES = new Map(Object.entries(PALETTE).map(([name, [r, g, b]]) => [(r << 16) | (g << 8) | b, name]));

/** The blobs of a picture: 4-connected regions of one colour other than the corner pixel's (the background). */
function blobs(data: Uint8ClampedArray, size: number): { background: string; blobs: Blob[]; unknownColours: number } {
  const colourAt = (i: number) => NAMES.get((data[i * 3] << 16) | (data[i * 3 + 1] << 8) | data[i * 3 + 2]) ?? 'unknown';
  const background = colourAt(0);
  const seen = new Uint8Array(size * size);
  const found: Blob[] = [];
  let unknownColours = 0;
  for (let start = 0; start < size * size; start++) {
    const colour = colourAt(start);
    if (colour === 'unknown') unknownColours++;
    if (seen[start] || colour === background) continue;
    const stack = [start];
    seen[start] = 1;
    const rows: number[] = [];
    const blob: Blob = { colour, pixels: 0, x0: size, x1: -1, y0: size, y1: -1, upper: 0, lower: 0 };
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % size;
      const y = Math.floor(i / size);
      blob.pixels++;
      rows.push(y);
      blob.x0 = Math.min(blob.x0, x);
      blob.x1 = Math.max(blob.x1, x);
      blob.y0 = Math.min(blob.y0, y);
      blob.y1 = Math.max(blob.y1, y);
      for (const [nx, ny] of [[x - 1, y], [x + 1, y], [x, y - 1], [x, y + 1]]) {
        const j = ny * size + nx;
        if (nx >= 0 && ny >= 0 && nx < size && ny < size && !seen[j] && colourAt(j) === colour) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    const middle = (blob.y0 + blob.y1) / 2;
    blob.upper = rows.filter((y) => y < middle).length;
    blob.lower = rows.filter((y) => y > middle).length;
    found.push(blob);
  }
  return { background, blobs: found, unknownColours };
}

/**
 * A blob's shape from its pixels alone: a square fills its box; a triangle (apex up) has three quarters of its area
 * in the lower half of its box, a circle half.
 */
function shapeOf(b: Blob): string {
  const fill = b.pixels / ((b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1));
  if (fill > 0.95) return 'square';
  return b.lower > 2 * b.upper ? 'triangle' : 'circle';
}

/** The scene the pixels show: blobs grouped by colour, shape and half. */
function sceneFromPixels(data: Uint8ClampedArray, twoGroups: boolean): { key: string; unknownColours: number } {
  const found = blobs(data, SCENE_SIZE);
  const groups = new Map<string, { count: number; colour: string; shape: string; side: string }>();
  for (const b of found.blobs) {
    const side = !twoGroups ? 'center' : (b.x0 + b.x1) / 2 < SCENE_SIZE / 2 ? 'left' : 'right';
    const key = `${b.colour} ${shapeOf(b)} ${side}`;
    const g = groups.get(key) ?? { count: 0, colour: b.colour, shape: shapeOf(b), side };
    g.count++;
    groups.set(key, g);
  }
  return { key: sceneKey({ background: found.background, groups: [...groups.values()] } as Scene), unknownColours: found.unknownColours };
}

const TWO = parseScene('{"background":"white","groups":[{"count":2,"colour":"red","shape":"circle","side":"left"},{"count":1,"colour":"blue","shape":"square","side":"right"}]}');

describe('rendering a scene', () => {
  it('is 64×64 RGB and the same for the same scene and seed, different for another seed', () => {
    const a = renderScene(TWO, 7);
    expect([a.width, a.height, a.channels, a.data.length]).toEqual([64, 64, 3, 64 * 64 * 3]);
    expect(renderScene(TWO, 7).data).toEqual(a.data);
    expect(renderScene(structuredClone(TWO), 7).data).toEqual(a.data);
    expect(renderScene(TWO, 8).data).not.toEqual(a.data);
  });

  it('jitters sizes and positions with the seed', () => {
    const scene = parseScene('{"background":"black","groups":[{"count":1,"colour":"green","shape":"circle","side":"center"}]}');
    const placements = Array.from({ length: 50 }, (_, seed) => layout(scene, seed)[0][0]);
    const spread = (f: (p: (typeof placements)[0]) => number) => Math.max(...placements.map(f)) - Math.min(...placements.map(f));
    expect(spread((p) => p.r)).toBeGreaterThan(2);
    expect(spread((p) => p.cx)).toBeGreaterThan(20);
    expect(spread((p) => p.cy)).toBeGreaterThan(20);
  });

  it("shows the issue's example: two red circles on the left, one blue square on the right, on white", () => {
    for (let seed = 0; seed < 20; seed++) {
      const { background, blobs: found } = blobs(renderScene(TWO, seed).data, SCENE_SIZE);
      expect(background).toBe('white');
      expect(found.map((b) => `${b.colour} ${shapeOf(b)} ${b.x1 < 32 ? 'left' : b.x0 >= 32 ? 'right' : 'across'}`).sort()).toEqual([
        'blue square right',
        'red circle left',
        'red circle left',
      ]);
    }
  });

  it('matches the ground truth in the pixels for every scene of the world (counted blobs, their colours, shapes and halves)', () => {
    const prng = new Prng(1);
    const mismatches: string[] = [];
    for (const scene of allScenes()) {
      const seed = prng.int(2 ** 32);
      const seen = sceneFromPixels(renderScene(scene, seed).data, scene.groups.length === 2);
      if (seen.key !== sceneKey(scene) || seen.unknownColours > 0) mismatches.push(`${sceneKey(scene)} seed ${seed}: pixels show ${seen.key}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('keeps shapes inside their half, apart from each other, for many seeds', () => {
    const scenes = allScenes().filter((s) => s.groups.every((g) => g.count === 3));
    for (const scene of scenes) {
      for (let seed = 0; seed < 10; seed++) {
        const { blobs: found } = blobs(renderScene(scene, seed).data, SCENE_SIZE);
        expect(found).toHaveLength(scene.groups.length * 3);
        if (scene.groups.length === 2) for (const b of found) expect(b.x1 < 32 || b.x0 >= 32, `${sceneKey(scene)} seed ${seed}`).toBe(true);
      }
    }
  });
});
