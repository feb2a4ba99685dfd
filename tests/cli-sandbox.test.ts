/** `npm run aspo -- sandbox render|judge` in a child process, as a user runs them, against the library's own results. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { describeScene } from '../src/sandbox/captions';
import { renderScene } from '../src/sandbox/render';
import { parseScene } from '../src/sandbox/scene';
import { aspo } from './setup/aspoCli';

const SCENE = '{"background":"black","groups":[{"count":3,"colour":"yellow","shape":"triangle","side":"left"},{"count":1,"colour":"green","shape":"circle","side":"right"}]}';
const dir = mkdtempSync(join(tmpdir(), 'aspo-cli-sandbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run aspo -- sandbox render', () => {
  it('writes the PNG of renderScene for the scene and seed, and prints the scene and its description', async () => {
    const out = join(dir, 'pictures', 'scene.png');
    const r = await aspo(['sandbox', 'render', '--scene', SCENE, '--seed', '42', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const scene = parseScene(SCENE);
    expect(JSON.parse(r.stdout)).toEqual({ out, width: 64, height: 64, seed: 42, scene, description: describeScene(scene) });
    const png = await RawImage.read(out);
    expect([png.width, png.height, png.channels]).toEqual([64, 64, 3]);
    expect(Buffer.from(png.data).equals(Buffer.from(renderScene(scene, 42).data))).toBe(true);
  });

  it('draws seed 0 when no seed is given, and replaces a file only with --overwrite', async () => {
    const out = join(dir, 'mine.png');
    writeFileSync(out, 'my own picture');
    const refused = await aspo(['sandbox', 'render', '--scene', SCENE, '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`aspo: --out ${out} already exists; add --overwrite to replace it`);
    expect(readFileSync(out, 'utf8')).toBe('my own picture');
    const r = await aspo(['sandbox', 'render', '--scene', SCENE, '--out', out, '--overwrite']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).seed).toBe(0);
    expect(Buffer.from((await RawImage.read(out)).data).equals(Buffer.from(renderScene(parseScene(SCENE), 0).data))).toBe(true);
  });
});

describe('npm run aspo -- sandbox judge', () => {
  it('prints each sentence with its span and verdict, the facts stated and the figures', async () => {
    const text = 'There are three yellow triangles. The yellow triangles are on the right. There is one green square. There is a cat. Nice.';
    const r = await aspo(['sandbox', 'judge', '--scene', SCENE, '--text', text]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sentences.map((s: { start: number; end: number; verdict: string; kind?: string }) => [text.slice(s.start, s.end).trim(), s.verdict, s.kind ?? null])).toEqual([
      ['There are three yellow triangles.', 'correct', null],
      ['The yellow triangles are on the right.', 'hallucinated', 'side'],
      ['There is one green square.', 'hallucinated', 'shape'],
      ['There is a cat.', 'hallucinated', 'absent-object'],
      ['Nice.', 'unparsed', null],
    ]);
    expect(out.facts.filter((f: { stated: boolean }) => f.stated).map((f: { sentence: string }) => f.sentence)).toEqual(['There are three yellow triangles.']);
    expect(out.metrics).toMatchObject({ descriptions: 1, sentences: 5, claims: 4, chairS: 1, chairI: 3 / 4, recall: 1 / 5, unparsed: 1 / 5 });
    expect(out.metrics.kinds).toMatchObject({ side: 1, shape: 1, 'absent-object': 1, colour: 0 });
  });

  it('refuses a scene that is not one of the world, naming the field, with exit 2', async () => {
    const r = await aspo(['sandbox', 'judge', '--scene', SCENE.replace('"count":1', '"count":4'), '--text', 'There is a cat.']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('aspo: --scene: field "groups[1].count" must be one of 1, 2, 3, got 4');
    expect(r.stdout).toBe('');
  });
});
