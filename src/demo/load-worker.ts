/**
 * Constant-rate load from a separate process, so a test or a benchmark can load a system
 * without sharing its event loop:
 *
 *     node dist/demo/load-worker.js --url URL --rps 300 --duration-ms 10000 [--header k:v]...
 *       [--timeout-ms 5000] [--max-in-flight N] [--method GET]
 *
 * stdout: one JSON line per window (`{"type":"window",...}`), then `{"type":"summary",...}`.
 * SIGTERM or SIGINT stops sending early; the summary is still printed. Exit 0 after a run,
 * 2 on bad arguments (the reason on stderr).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { InvalidLoadOptionsError, runLoad, validateLoadOptions, type LoadOptions, type LoadSummary } from './load-generator.js';

/** Parses the worker's command line into load options; throws InvalidLoadOptionsError. */
export function parseLoadWorkerArgs(argv: readonly string[]): LoadOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        url: { type: 'string' },
        rps: { type: 'string' },
        'duration-ms': { type: 'string' },
        header: { type: 'string', multiple: true },
        'timeout-ms': { type: 'string' },
        'max-in-flight': { type: 'string' },
        method: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new InvalidLoadOptionsError(err instanceof Error ? err.message : String(err));
  }
  if (values.url === undefined) throw new InvalidLoadOptionsError('--url is required');
  if (values.rps === undefined) throw new InvalidLoadOptionsError('--rps is required');
  if (values['duration-ms'] === undefined) throw new InvalidLoadOptionsError('--duration-ms is required');
  const num = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidLoadOptionsError(`--${flag}: must be a number > 0, got "${v}"`);
    return n;
  };
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new InvalidLoadOptionsError(`--header: "${h}" is not name:value`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const options: LoadOptions = {
    url: values.url,
    ratePerSecond: num('rps', values.rps) ?? 0,
    durationMs: num('duration-ms', values['duration-ms']) ?? 0,
    headers,
  };
  const timeoutMs = num('timeout-ms', values['timeout-ms']);
  const maxInFlight = num('max-in-flight', values['max-in-flight']);
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  if (maxInFlight !== undefined) options.maxInFlight = maxInFlight;
  if (values.method !== undefined) options.method = values.method.toUpperCase();
  validateLoadOptions(options);
  return options;
}

/**
 * Runs the worker: parses `argv`, puts the load on, writes JSON lines to `write`, and resolves
 * with the summary. Stops early when `signal` aborts.
 */
export async function runLoadWorker(argv: readonly string[], write: (line: string) => void, signal?: AbortSignal): Promise<LoadSummary> {
  const options = parseLoadWorkerArgs(argv);
  const summary = await runLoad({
    ...options,
    ...(signal ? { signal } : {}),
    onWindow: (w) => write(JSON.stringify({ type: 'window', ...w })),
  });
  const { windows: _windows, ...rest } = summary;
  write(JSON.stringify({ type: 'summary', ...rest, windows: summary.windows.length }));
  return summary;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  runLoadWorker(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`), stop.signal).then(
    () => process.exit(0),
    (err: unknown) => {
      if (err instanceof InvalidLoadOptionsError) {
        process.stderr.write(`load-worker: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`load-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
