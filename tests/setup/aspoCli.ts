import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `npm run aspo -- …args` in a child process, as a user runs it: its exit code, stdout and stderr. */
export async function aspo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('npx', ['tsx', 'scripts/aspo.ts', ...args], { encoding: 'utf8' }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}
