/**
 * What the benchmarks (scripts/bench-*.ts) share: a progress log on stderr with the seconds since start, a free
 * port, `vite preview` serving the built app (dist/, or BENCH_DIST), a Chromium page on the harness (harness.html) with a per-call time cap,
 * skipped outcomes, medians and ratios. Each benchmark prints one JSON object on stdout; never a timed test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from './chromium';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** A measurement left out, with the reason. */
export type Skipped = { skipped: true; reason: string };
export type Outcome<T> = T | Skipped;

export function isSkipped<T>(x: Outcome<T> | undefined): x is Skipped | undefined {
  return x === undefined || (x as Skipped).skipped === true;
}

export function skipped(reason: string): Skipped {
  return { skipped: true, reason };
}

/** Seconds since the benchmark started, and a progress log on stderr (`[name Ns] message`). */
export class Clock {
  readonly started = performance.now();
  constructor(private readonly name: string) {}

  elapsedS(): number {
    return (performance.now() - this.started) / 1000;
  }

  log(message: string): void {
    process.stderr.write(`[${this.name} ${this.elapsedS().toFixed(0)}s] ${message}\n`);
  }
}

export { median } from '../../src/harness/protocol';

export function round(x: number, digits = 3): number {
  return Number(x.toFixed(digits));
}

export function machine() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)) };
}

/** What every benchmark's JSON opens with: its name, the date, the machine and the browser. */
export function resultHeader(benchmark: string, browserVersion: string) {
  return {
    benchmark,
    date: new Date().toISOString(),
    machine: machine(),
    browser: `Chromium ${browserVersion} (WebGPU through SwiftShader unless the machine has a GPU)`,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, 'localhost', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The built app the benchmarks serve: dist/ (what `npm run bench:*` builds), or `BENCH_DIST` (a `vite build --outDir`). */
const DIST = process.env.BENCH_DIST ?? 'dist';

/** `vite preview` of the built app on `port`, once it answers for harness.html. */
export async function startPreview(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [resolve(ROOT, 'node_modules/vite/bin/vite.js'), 'preview', '--outDir', DIST, '--port', String(port), '--strictPort'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vite preview exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`http://localhost:${port}/harness.html`);
      if (res.ok) return child;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('vite preview did not start within 60 s (did `vite build` run?)');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Thrown by {@link Session.call} when a measurement exceeds its cap. */
export class Timeout extends Error {}

/** A Chromium page on the harness; `call` runs one harness function with a time cap. */
export class Session {
  browser!: Browser;
  page!: Page;
  constructor(
    private readonly url: string,
    private readonly log: (message: string) => void,
    /** Runs in the page before its own scripts, on every (re)load (e.g. a PerformanceObserver). */
    private readonly initScript?: () => void,
  ) {}

  async open(): Promise<void> {
    this.browser = await chromium.launch(chromiumLaunchOptions());
    this.page = await this.browser.newPage();
    if (this.initScript) await this.page.addInitScript(this.initScript);
    this.page.on('pageerror', (e) => this.log(`page error: ${e.message}`));
    await this.page.goto(this.url);
    await this.page.waitForFunction(() => window.aspoHarness !== undefined, null, { timeout: 120_000 });
  }

  async restart(): Promise<void> {
    await this.browser.close().catch(() => undefined);
    await this.open();
  }

  async close(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
  }

  /** Runs `fn` in the page; rejects with Timeout after `capS` seconds (the page is then unusable: restart it). */
  async call<A, T>(capS: number, fn: (arg: A) => Promise<T>, arg: A): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout(`exceeded the ${capS} s cap for one measurement`)), capS * 1000);
    });
    try {
      return await Promise.race([this.page.evaluate(fn as (arg: unknown) => Promise<T>, arg as unknown), cap]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Serves the built app with `vite preview` on a free port for the duration of `body`, then stops it. */
export async function withPreview<T>(log: (message: string) => void, body: (origin: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  log(`serving ${DIST} on port ${port}`);
  const preview = await startPreview(port);
  const kill = () => preview.kill();
  process.once('exit', kill);
  try {
    return await body(`http://localhost:${port}`);
  } finally {
    preview.kill();
    process.off('exit', kill);
  }
}
