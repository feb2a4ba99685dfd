import { SEED_MAX } from '../../src/train/settings';

/** A mistake in how the command was called: reported with the usage text and exit code 2. */
export class UsageError extends Error {}

export function requiredString(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

// Decimal notation only: `Number()` would also read "0x10", "0b1" and "Infinity", and "" as 0.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const DECIMAL_INTEGER = /^-?\d+$/;

export function numberOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !DECIMAL.test(value) || !Number.isFinite(Number(value))) {
    throw new UsageError(`--${name} must be a decimal number, got "${String(value)}"`);
  }
  return Number(value);
}

export const SEED_RANGE = { min: 0, max: SEED_MAX } as const;

/**
 * A decimal integer option in [min, max] (max defaults to the largest exact integer), or undefined when not
 * given. "0x10", "1e3", "16.0" and values out of range are refused, never reinterpreted.
 */
export function integerOption(values: Record<string, unknown>, name: string, range: { min: number; max?: number }): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  const { min, max = Number.MAX_SAFE_INTEGER } = range;
  const bounds = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
  const parsed = typeof value === 'string' && DECIMAL_INTEGER.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`--${name} must be a decimal integer ${bounds}, got "${String(value)}"`);
  }
  return parsed;
}

export interface Command {
  usage: string;
  run(args: string[]): Promise<unknown>;
}
