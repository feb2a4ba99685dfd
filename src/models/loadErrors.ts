import { ModelFileError } from './sources';

/** Load failures in words a user can act on; the technical message stays attached for the curious. */
export function describeLoadFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ModelFileError) {
    if (err.reason === 'network') return `${message} If you are offline, pick a local model folder or a bundled model.`;
    return message;
  }
  if (/out of memory|allocation failed|OOM|Array buffer allocation/i.test(message)) {
    return `Not enough memory for this model (${message}). Try a smaller model, or close other tabs.`;
  }
  if (/Failed to fetch|NetworkError|CORS/i.test(message)) {
    return `The download was blocked (${message}). You may be offline, or the server refuses cross-origin requests; a local folder works offline.`;
  }
  return message;
}
