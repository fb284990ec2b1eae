/**
 * Starts the example apps' servers (examples/) as child processes on free ports, for tests,
 * benchmarks and the demo's static targets. Each server prints `<service>@<version> listening
 * on http://host:port` once it listens; that line is how the port chosen with PORT=0 is learnt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';
import { signalChild } from '../lib/signal-child.js';

/** The example servers there are, as `<example>/<service>`. */
export type ExampleServerName = 'shop/web' | 'shop/api' | 'quickstart/hello';

const SCRIPTS: Record<ExampleServerName, string> = {
  'shop/web': 'shop/web/server.js',
  'shop/api': 'shop/api/server.js',
  'quickstart/hello': 'quickstart/server.js',
};

/** The examples/ folder of this checkout or package (from src/demo, dist/demo or the bundle alike). */
export function examplesDir(): string {
  return join(packageRoot(import.meta.url), 'examples');
}

/** Where an example server's script is. */
export function exampleServerScript(name: ExampleServerName): string {
  return join(examplesDir(), SCRIPTS[name]);
}

/** An example server that did not come up. */
export class ExampleServerStartError extends Error {
  readonly code = 'EXAMPLE_SERVER_START_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'ExampleServerStartError';
  }
}

/** Which example server to start and with what environment. */
export interface StartExampleServerOptions {
  name: ExampleServerName;
  /** VERSION, FAIL_RATE, EXTRA_LATENCY_MS, SHUTDOWN_TIMEOUT_MS...; PORT defaults to 0 (free). */
  env?: Record<string, string>;
  /** Give up when the server has not said it listens after this long; default 10000. */
  startTimeoutMs?: number;
}

/** A running example server. */
export interface RunningExampleServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** What it answers in `x-served-by`, e.g. `web@v2`. */
  servedBy: string;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once it has exited. */
  exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM), then SIGKILL after `killAfterMs` (default 10000); resolves on exit. */
  stop(options?: { signal?: NodeJS.Signals; killAfterMs?: number }): Promise<number | string>;
}

/** Starts one example server and resolves once it listens. */
export function startExampleServer(options: StartExampleServerOptions): Promise<RunningExampleServer> {
  const script = exampleServerScript(options.name);
  const child = spawn(process.execPath, [script], {
    cwd: join(script, '..'),
    env: { ...process.env, PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });

  const stop: RunningExampleServer['stop'] = async ({ signal = 'SIGTERM', killAfterMs = 10_000 } = {}) => {
    if (child.exitCode === null && child.signalCode === null) {
      signalChild(child, signal);
      const killer = setTimeout(() => signalChild(child, 'SIGKILL'), killAfterMs);
      const result = await exited;
      clearTimeout(killer);
      return result;
    }
    return exited;
  };

  return new Promise((resolve, reject) => {
    const timeoutMs = options.startTimeoutMs ?? 10_000;
    const fail = (why: string) => {
      cleanup();
      signalChild(child, 'SIGKILL');
      reject(new ExampleServerStartError(`${options.name} (${script}) ${why}; its output:\n${output}`));
    };
    const timer = setTimeout(() => fail(`did not listen within ${timeoutMs}ms`), timeoutMs);
    const onData = () => {
      const m = /^(\S+@\S+) listening on (http:\/\/[^\s:]+:(\d+))/m.exec(output);
      if (!m) return;
      cleanup();
      resolve({ url: m[2] ?? '', port: Number(m[3]), servedBy: m[1] ?? '', child, output: () => output, exited, stop });
    };
    const onExit = (code: number | null, signal: string | null) => fail(`exited (${code ?? signal}) before listening`);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}
