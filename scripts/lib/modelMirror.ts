import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface ModelMirror {
  /** e.g. http://127.0.0.1:PORT — use as a hub endpoint (`/{org}/{name}/resolve/{rev}/{file}`) or with `/models/{name}/`. */
  url: string;
  /** Every path requested, in order, so tests can count downloads. */
  hits: string[];
  close(): Promise<void>;
}

/** Sends the plain file `root/name/file` and returns true; returns false, sending nothing, when there is none inside `root`. */
export function sendModelFile(req: IncomingMessage, res: ServerResponse, root: string, name: string, file: string): boolean {
  const path = normalize(join(root, name, file));
  if (!path.startsWith(root) || !existsSync(path) || !statSync(path).isFile()) return false;
  res.writeHead(200, { 'content-length': String(statSync(path).size), 'content-type': 'application/octet-stream' });
  if (req.method === 'HEAD') res.end();
  else createReadStream(path).pipe(res);
  return true;
}

/**
 * Serves a folder of models on loopback in the two layouts the app reads: a Hugging Face Hub mirror
 * (`/{org}/{name}/resolve/{revision}/{file}`, any org) and bundled models (`/models/{name}/{file}`).
 */
export async function startModelMirror(root: string): Promise<ModelMirror> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    hits.push(path);
    res.setHeader('access-control-allow-origin', '*');
    const hub = path.match(/^\/[^/]+\/([^/]+)\/resolve\/[^/]+\/(.+)$/);
    const bundled = path.match(/^\/models\/([^/]+)\/(.+)$/);
    const match = hub ?? bundled;
    if (!match || !sendModelFile(req, res, root, match[1], match[2])) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
