/**
 * A sandbox scene (issue 12, "The world"): a `white` or `black` background and one or two groups, each of 1–3
 * shapes of one shape and one colour. With two groups one is on the left half and one on the right, and they differ
 * in shape or colour; a single group is in the centre. Rendering is `render.ts`, the words for it `captions.ts`.
 *
 * Pure TS: no DOM, no Node.
 */
import { jsonSyntaxError } from '../data/jsonSyntax';

export type Colour = 'red' | 'green' | 'blue' | 'yellow';
export type Shape = 'circle' | 'square' | 'triangle';
export type Background = 'white' | 'black';
export type Count = 1 | 2 | 3;
export type Side = 'left' | 'right' | 'center';

export const COLOURS: readonly Colour[] = ['red', 'green', 'blue', 'yellow'];
export const SHAPES: readonly Shape[] = ['circle', 'square', 'triangle'];
export const BACKGROUNDS: readonly Background[] = ['white', 'black'];
export const COUNTS: readonly Count[] = [1, 2, 3];

export interface Group {
  count: Count;
  colour: Colour;
  shape: Shape;
  side: Side;
}

export interface Scene {
  background: Background;
  /** one group (side `center`) or two (one `left`, one `right`) */
  groups: Group[];
}

/** A scene that is not one of the world's, with the field at fault (`groups[1].colour`) in the message. */
export class SceneError extends Error {}

const GROUP_FIELDS = ['count', 'colour', 'shape', 'side'] as const;
const SCENE_FIELDS = ['background', 'groups'] as const;
// The one misspelling worth a hint: the world spells it the British way, everywhere.
const SPELLING: Record<string, string> = { color: 'colour' };

const shown = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value));

function oneOf<T extends string | number>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T)) {
    throw new SceneError(`field "${field}" must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${shown(value)}`);
  }
  return value as T;
}

function object(value: unknown, field: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SceneError(`${field} must be a JSON object with fields ${fields.join(', ')}, got ${Array.isArray(value) ? 'an array' : shown(value)}`);
  }
  const record = value as Record<string, unknown>;
  const prefix = field === 'the scene' ? '' : `${field}.`;
  for (const key of Object.keys(record)) {
    if (fields.includes(key)) continue;
    const hint = SPELLING[key] ? ` (the world spells it "${SPELLING[key]}")` : '';
    throw new SceneError(`unknown field "${prefix}${key}"${hint}; a ${field === 'the scene' ? 'scene' : 'group'} has ${fields.join(', ')}`);
  }
  for (const key of fields) if (!(key in record)) throw new SceneError(`field "${prefix}${key}" is missing`);
  return record;
}

const plural = (group: Pick<Group, 'colour' | 'shape'>) => `${group.colour} ${group.shape}s`;

/** Checks a parsed JSON value and returns it as a scene (a copy); throws a SceneError naming the field at fault. */
export function validateScene(value: unknown): Scene {
  const record = object(value, 'the scene', SCENE_FIELDS);
  const background = oneOf(record.background, BACKGROUNDS, 'background');
  const groups = record.groups;
  if (!Array.isArray(groups) || groups.length < 1 || groups.length > 2) {
    throw new SceneError(`field "groups" must be an array of one or two groups, got ${Array.isArray(groups) ? `${groups.length} groups` : shown(groups)}`);
  }
  const checked = groups.map((g: unknown, i): Group => {
    const field = `groups[${i}]`;
    const group = object(g, field, GROUP_FIELDS);
    return {
      count: oneOf(group.count, COUNTS, `${field}.count`),
      colour: oneOf(group.colour, COLOURS, `${field}.colour`),
      shape: oneOf(group.shape, SHAPES, `${field}.shape`),
      side: oneOf(group.side, ['left', 'right', 'center'] as const, `${field}.side`),
    };
  });
  if (checked.length === 1 && checked[0].side !== 'center') {
    throw new SceneError(`field "groups[0].side" must be "center" in a scene of one group, got "${checked[0].side}"`);
  }
  if (checked.length === 2) {
    const [a, b] = checked;
    for (const [i, g] of checked.entries()) {
      if (g.side === 'center') throw new SceneError(`field "groups[${i}].side" must be "left" or "right" in a scene of two groups, got "center"`);
    }
    if (a.side === b.side) throw new SceneError(`fields "groups[0].side" and "groups[1].side" are both "${a.side}"; one group is on the left, the other on the right`);
    if (a.colour === b.colour && a.shape === b.shape) {
      throw new SceneError(`groups[0] and groups[1] are both ${plural(a)}; the two groups must differ in shape or colour`);
    }
  }
  return { background, groups: checked };
}

/** Parses a scene from JSON text (the `--scene` of the command line); throws a SceneError naming the field or the place. */
export function parseScene(text: string): Scene {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const at = jsonSyntaxError(text);
    const where = at ? ` (line ${at.line}, column ${at.column}: expected ${at.expected})` : '';
    throw new SceneError(`the scene is not valid JSON${where}`);
  }
  return validateScene(value);
}

/** The group on `side` (`center` for a one-group scene), if any. */
export function groupOn(scene: Scene, side: Side): Group | undefined {
  return scene.groups.find((g) => g.side === side);
}

/** The groups left to right: the order in which descriptions name them. */
export function groupsInOrder(scene: Scene): Group[] {
  const rank: Record<Side, number> = { left: 0, center: 1, right: 2 };
  return [...scene.groups].sort((a, b) => rank[a.side] - rank[b.side]);
}

/** One string per scene, the same for the same scene whatever the order of its groups: `white|2 red circle left|1 blue square right`. */
export function sceneKey(scene: Scene): string {
  return [scene.background, ...groupsInOrder(scene).map((g) => `${g.count} ${g.colour} ${g.shape} ${g.side}`)].join('|');
}
