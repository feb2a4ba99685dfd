import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { folderSource, type ModelSource } from '../../src/models/sources';
import { FIXTURE_MODELS } from './bundledModels';

export { FIXTURE_MODELS };

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/**
 * A model folder on disk, presented exactly as the browser presents a folder the user picked (File objects with
 * webkitRelativePath), so Node and the tab share one loading path.
 */
export function nodeFolderSource(dir: string): ModelSource {
  const root = resolve(dir);
  if (!existsSync(join(root, 'config.json'))) {
    throw new Error(`${dir} is not a model folder: it has no config.json`);
  }
  const name = basename(root);
  const files = listFiles(root).map((path) => {
    const file = new File([readFileSync(path)], basename(path));
    Object.defineProperty(file, 'webkitRelativePath', { value: `${name}/${relative(root, path)}` });
    return file;
  });
  return folderSource(files, { label: name });
}

export function fixtureSource(name: 'tiny-smolvlm' | 'tiny-smollm2'): ModelSource {
  return nodeFolderSource(join(FIXTURE_MODELS, name));
}
