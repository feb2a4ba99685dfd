/**
 * The layer rule, checked: imports flow ui → state → train / models / data → aspo. A file's layer is its first
 * folder under src/; an import is read from the source text (static, re-export, type-only and dynamic forms) and
 * resolved relative to the file, so a move that breaks the rule fails here with the file, line and import.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../src');
const TESTS = resolve(__dirname) + sep;

/** Layers a file of each layer must not import from; aspo's own rule (nothing outside it) is checked apart. */
const FORBIDDEN: Record<string, string[]> = {
  state: ['ui'],
  train: ['state', 'ui'],
  models: ['state', 'ui'],
  data: ['state', 'ui'],
};

const IMPORT_FORMS = [
  /\bimport\s+(?:type\s+)?[\w*{}\s,$]*?\s*from\s*['"]([^'"]+)['"]/g,
  /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bnew\s+URL\s*\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
];

function importSpecifiers(source: string): { specifier: string; line: number }[] {
  const found: { specifier: string; line: number; at: number }[] = [];
  for (const form of IMPORT_FORMS) {
    for (const m of source.matchAll(form)) {
      const at = m.index! + m[0].lastIndexOf(m[1]);
      found.push({ specifier: m[1], line: source.slice(0, at).split('\n').length, at });
    }
  }
  return found.sort((a, b) => a.at - b.at).map(({ specifier, line }) => ({ specifier, line }));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(e.name) ? [path] : [];
  });
}

/** The first folder under src/ of a path, or null for a path outside src/ (or a file directly in it). */
function layerOf(path: string): string | null {
  const parts = relative(SRC, path).split(sep);
  return parts[0] === '..' || parts.length < 2 ? null : parts[0];
}

interface Edge {
  file: string;
  line: number;
  specifier: string;
  from: string;
  /** The layer imported, 'outside src' for a relative path that leaves src/, null for a package. */
  to: string | null;
}

function edges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) => {
    const from = layerOf(file)!;
    return importSpecifiers(readFileSync(file, 'utf8')).map(({ specifier, line }) => {
      const to = specifier.startsWith('.') ? (layerOf(resolve(dirname(file), specifier)) ?? 'outside src') : null;
      return { file: relative(resolve(SRC, '..'), file), line, specifier, from, to };
    });
  });
}

const describeEdge = (e: Edge) => `${e.file}:${e.line} imports '${e.specifier}' (${e.from} → ${e.to})`;

describe('layer rule', () => {
  it('reads every import form and its line', () => {
    const source = [
      "import { a } from '../aspo';",
      "import type { B } from './b';",
      'import {',
      '  c,',
      "} from '../ui/c';",
      "export { d } from '../state/d';",
      "export * from './e';",
      "import './styles.css';",
      "const f = await import('../models/f');",
      "new Worker(new URL('./worker.ts', import.meta.url));",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual([
      { specifier: '../aspo', line: 1 },
      { specifier: './b', line: 2 },
      { specifier: '../ui/c', line: 5 },
      { specifier: '../state/d', line: 6 },
      { specifier: './e', line: 7 },
      { specifier: './styles.css', line: 8 },
      { specifier: '../models/f', line: 9 },
      { specifier: './worker.ts', line: 10 },
    ]);
  });

  it('sees the imports of the tree (the check is not vacuous)', () => {
    const all = edges();
    expect(all.some((e) => e.from === 'ui' && e.to === 'state')).toBe(true);
    expect(all.some((e) => e.from === 'state' && e.to === 'data')).toBe(true);
    expect(all.some((e) => e.from === 'train' && e.to === 'aspo')).toBe(true);
  });

  it('no file imports a layer above its own', () => {
    const wrong = edges().filter((e) => e.to !== null && (FORBIDDEN[e.from] ?? []).includes(e.to));
    expect(wrong.map(describeEdge)).toEqual([]);
  });

  it('src/aspo imports nothing of the project outside src/aspo (its tests may use the shared test set-up)', () => {
    const testSupport = (e: Edge) => /\.test(util)?\.tsx?$/.test(e.file) && resolve(SRC, '..', dirname(e.file), e.specifier).startsWith(TESTS);
    const wrong = edges().filter((e) => e.from === 'aspo' && e.to !== null && e.to !== 'aspo' && !testSupport(e));
    expect(wrong.map(describeEdge)).toEqual([]);
  });
});
