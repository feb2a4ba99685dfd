/** A mistake in how the command was called: reported with the usage text and exit code 2. */
export class UsageError extends Error {}

export function requiredString(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function numberOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const value = values[name];
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(parsed)) {
    throw new UsageError(`--${name} must be a number, got "${String(value)}"`);
  }
  return parsed;
}

export interface Command {
  usage: string;
  run(args: string[]): Promise<unknown>;
}
