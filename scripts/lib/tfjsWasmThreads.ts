import type { Plugin } from 'vite';

const FACTORY = /[\\/]@tensorflow[\\/]tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/;

/** Each edit: the text of tfjs-backend-wasm 4.22's threaded Emscripten glue it replaces, and what with. */
const EDITS: { find: string; replace: string }[] = [
  // tfjs-backend-wasm starts its pthread workers from the source text of this factory (`factory.toString()` in a
  // Blob), cut loose from the closure that declares `_scriptDir`; the factory reads it only behind this `typeof`
  // guard. The minifier, seeing the variable declared, turns the guard into `e !== void 0 && e`, which throws
  // "e is not defined" in every worker, so the backend never starts. In a browser bundle `_scriptDir` is always
  // undefined (`document.currentScript` is null for ES modules and absent in workers): the guard is `false`.
  { find: 'typeof _scriptDir !== "undefined" && _scriptDir', replace: 'false' },
  // The binary caps its thread pool at half of what this returns (it assumes two hyperthreads per core), so a
  // browser reporting 2 logical cores gets 1 thread however many src/tf/backend.ts asks for. Answering twice the
  // logical cores makes the cap the logical core count; setThreadsCount (src/tf/backend.ts) then decides.
  {
    find: 'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;return navigator["hardwareConcurrency"]}',
    replace:
      'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;return navigator["hardwareConcurrency"]*2}',
  },
];

/**
 * Makes TF.js' threaded WASM backend start, and use every core, in the tab. Used three times by vite.config.ts:
 * for the app's build, for the training worker's (bundled on its own), and for the dev server's pre-bundled
 * dependencies, where node_modules code is transformed. The build fails when a tfjs-backend-wasm other than 4.22
 * no longer has the text an edit replaces.
 */
export function tfjsWasmThreads(): Plugin {
  return {
    name: 'aspo-tfjs-wasm-threads',
    transform(code, id) {
      if (!FACTORY.test(id.split('?')[0])) return null;
      let out = code;
      for (const { find, replace } of EDITS) {
        const at = out.indexOf(find);
        if (at < 0 || out.indexOf(find, at + 1) >= 0) {
          this.error(`${id}: expected \`${find.slice(0, 60)}…\` exactly once; check how this tfjs-backend-wasm starts its threads`);
        }
        out = out.replace(find, replace);
      }
      return { code: out, map: null };
    },
  };
}
