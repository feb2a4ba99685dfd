import { AutoProcessor, AutoTokenizer, env, type PreTrainedTokenizer, type Processor } from '@huggingface/transformers';
import { fetchFromSource, type ModelSource } from './sources';

/**
 * transformers.js reads model files itself. Rather than let it reach the network or its own caches, every
 * file it asks for is answered by one of our ModelSources (hub with progress and Cache Storage, picked folder,
 * bundled URL), so there is one model-source layer and a user's folder never leaves the tab.
 * This module is the one place the library's `env` is configured.
 */
const HOST = 'https://aspo-workbench.invalid/';

const sources = new Map<string, ModelSource>();
let nextKey = 0;

function installFetch() {
  env.allowLocalModels = false;
  env.allowRemoteModels = true;
  env.remoteHost = HOST;
  env.remotePathTemplate = '{model}/';
  env.useBrowserCache = false;
  env.useFSCache = false;
  env.useCustomCache = false;
  env.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const key = url.startsWith(HOST) ? url.slice(HOST.length).split('/')[0] : '';
    const source = sources.get(key);
    if (!source) return new Response(null, { status: 404, statusText: `no model source registered for ${url}` });
    return fetchFromSource(source, `${HOST}${key}/`)(input, init);
  };
}

/** A model id under which transformers.js' Auto* classes read this source's files. */
export function registerSource(source: ModelSource): string {
  installFetch();
  const key = `source-${nextKey++}`;
  sources.set(key, source);
  return key;
}

export function unregisterSource(key: string): void {
  sources.delete(key);
}

export async function loadTokenizer(source: ModelSource): Promise<PreTrainedTokenizer> {
  const key = registerSource(source);
  try {
    return await AutoTokenizer.from_pretrained(key);
  } finally {
    unregisterSource(key);
  }
}

export async function loadProcessor(source: ModelSource): Promise<Processor> {
  const key = registerSource(source);
  try {
    return await AutoProcessor.from_pretrained(key);
  } finally {
    unregisterSource(key);
  }
}
