/**
 * The `command` provider: runs a program without a shell (argv as given, nothing interpolated
 * by a shell) and takes its stdout as the result: JSON when it parses, else the trimmed text,
 * null when empty. Exit code 0 lets the conditions judge; any other exit code makes the
 * measurement Failed by itself, as a failed Job does in Argo. Past the timeout the process is
 * killed (SIGTERM, then SIGKILL) and the measurement is an Error.
 */
import { spawn } from 'node:child_process';
import type { Static } from '@sinclair/typebox';
import type { CommandProvider as CommandProviderSchema } from '../../documents/schema.js';
import type { ResolvedMetric } from '../../analysis/judge/types.js';
import { throwIfAborted } from '../deadline.js';
import { providerConfig, ProviderError, type MeasureRequest, type MeasureResult, type MetricProvider, type ProviderCapability } from '../provider.js';
import { signalChild } from '../../lib/signal-child.js';

type CommandConfig = Static<typeof CommandProviderSchema>;

/** Default timeout when the metric gives none. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** Output beyond this is cut: a metric is a number or a small document. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;
/** After SIGTERM, a process gets this long before SIGKILL. */
const KILL_GRACE_MS = 2_000;

/** Options for {@link CommandMetricProvider}. */
export interface CommandProviderOptions {
  /** Environment every command starts from (default: PATH, HOME, LANG, TZ of this process). */
  baseEnv?: Record<string, string>;
  /** Working directory (default: this process's). */
  cwd?: string;
}

/** Runs a command per measurement. */
export class CommandMetricProvider implements MetricProvider {
  readonly type = 'command';
  readonly capabilities: readonly ProviderCapability[] = ['timeout'];
  private readonly baseEnv: Record<string, string>;

  constructor(private readonly options: CommandProviderOptions = {}) {
    this.baseEnv = options.baseEnv ?? pick(process.env, ['PATH', 'HOME', 'LANG', 'TZ']);
  }

  validate(metric: ResolvedMetric): void {
    const c = providerConfig<CommandConfig>(metric, this.type);
    if (!Array.isArray(c.command) || c.command.length === 0 || c.command.some((a) => typeof a !== 'string')) {
      throw new ProviderError('invalid-config', this.type, `metric "${metric.name}": command must be a non-empty list of strings (argv)`);
    }
    if (c.command[0] === '') throw new ProviderError('invalid-config', this.type, `metric "${metric.name}": command[0] (the program) is empty`);
  }

  // async so that bad config and an early abort reject rather than throw.
  async measure({ metric, signal }: MeasureRequest): Promise<MeasureResult> {
    this.validate(metric);
    throwIfAborted(signal, this.type);
    const c = providerConfig<CommandConfig>(metric, this.type);
    const timeoutMs = (c.timeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_MS / 1000) * 1000;
    const [program, ...argv] = c.command;
    return await new Promise<MeasureResult>((resolve, reject) => {
      const child = spawn(program!, argv, {
        shell: false,
        env: { ...this.baseEnv, ...(c.env ?? {}) },
        cwd: this.options.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let stopped: 'timeout' | 'aborted' | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const stop = (why: 'timeout' | 'aborted') => {
        if (stopped) return;
        stopped = why;
        signalChild(child, 'SIGTERM');
        killTimer = setTimeout(() => signalChild(child, 'SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      const timer = setTimeout(() => stop('timeout'), timeoutMs);
      const onAbort = () => stop('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (chunk: Buffer) => {
        if (outBytes < MAX_OUTPUT_BYTES) out.push(chunk);
        outBytes += chunk.length;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (errBytes < 64 * 1024) err.push(chunk);
        errBytes += chunk.length;
      });
      const cleanup = () => {
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        signal.removeEventListener('abort', onAbort);
      };
      child.on('error', (e: NodeJS.ErrnoException) => {
        cleanup();
        reject(new ProviderError('spawn-failed', this.type, `cannot run ${JSON.stringify(program)}: ${e.code ?? e.message}`, { cause: e }));
      });
      child.on('close', (code, sig) => {
        cleanup();
        if (stopped === 'timeout') return reject(new ProviderError('timeout', this.type, `${program} did not finish within ${timeoutMs} ms and was killed`));
        if (stopped === 'aborted') return reject(new ProviderError('aborted', this.type, `${program} was stopped: measurement aborted`));
        if (outBytes > MAX_OUTPUT_BYTES) return reject(new ProviderError('bad-response', this.type, `${program} wrote more than ${MAX_OUTPUT_BYTES} bytes to stdout`));
        const stdout = Buffer.concat(out).toString('utf8');
        const value = parseOutput(stdout);
        const metadata = { exitCode: String(code ?? ''), ...(sig ? { signal: sig } : {}) };
        if (code === 0) return resolve({ value, metadata });
        const stderr = Buffer.concat(err).toString('utf8').trim().slice(0, 500);
        resolve({ value, phase: 'Failed', message: `${program} exited with ${code === null ? `signal ${sig}` : `code ${code}`}${stderr ? `: ${stderr}` : ''}`, metadata });
      });
    });
  }
}

function parseOutput(stdout: string): unknown {
  const t = stdout.trim();
  if (t === '') return null;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return t;
  }
}

function pick(env: NodeJS.ProcessEnv, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (env[k] !== undefined) out[k] = env[k];
  return out;
}
