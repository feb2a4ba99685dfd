/**
 * Headless use of the workbench: `npm run aspo -- <command> [options]`. Runs the same code as the tab, on the
 * TF.js backend that --backend names (WASM by default, scripts/cli/backend.ts), and prints JSON on stdout. Each
 * command lives in scripts/cli/.
 */
import { UsageError, type Command } from './cli/args';
import { generateCommand } from './cli/generate';
import { logprobsCommand } from './cli/logprobs';
import { sandboxCommand } from './cli/sandbox';
import { similarityCommand } from './cli/similarity';
import { trainCommand } from './cli/train';

const COMMANDS: Record<string, Command> = {
  generate: generateCommand,
  logprobs: logprobsCommand,
  sandbox: sandboxCommand,
  similarity: similarityCommand,
  train: trainCommand,
};

const usage = () =>
  `usage: npm run aspo -- <command> [options]\n\n${Object.values(COMMANDS)
    .map((c) => `  ${c.usage}`)
    .join('\n\n')}`;

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const entry = command && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  const result = await entry.run(rest);
  // Exits once the output is written: with a GPU device open, Dawn's Node bindings (--backend webgpu) can keep the
  // process alive until the device is destroyed (node-webgpu's README, "Lifetime"), and TF.js never destroys it.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit());
}

main().catch((err: Error) => {
  const usageError = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(usageError ? `aspo: ${err.message}\n${usage()}\n` : `aspo: ${err.message}\n`);
  process.exit(usageError ? 2 : ((err as { exitCode?: number }).exitCode ?? 1));
});
