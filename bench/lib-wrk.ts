/**
 * Debian's `wrk` as the load generator of the router benchmark: a C event loop, so the figures
 * are the proxy's and not a JavaScript client's (autocannon hid half the gap to nginx). A small
 * Lua `done` hook prints exact percentiles from wrk's own microsecond histogram as one JSON line;
 * a fixed rate is paced with Lua's `delay` (wrk2 is not in Debian), by default with random pauses
 * so that the requests of all connections together arrive as a Poisson process would.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signalChild } from '../src/lib/signal-child.js';

/** What one wrk run measured. */
export interface WrkFigures {
  /** Responses completed. */
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Socket errors (connect, read, write) and timeouts. */
  errors: number;
  /** Responses with a status of 400 or more (wrk counts them as `status` errors). */
  non2xx: number;
}

/** wrk could not run or did not report. */
export class WrkError extends Error {
  /** Stable code for callers. */
  readonly code: 'WrkMissing' | 'WrkFailed' | 'NoSummary';
  constructor(options: { code: 'WrkMissing' | 'WrkFailed' | 'NoSummary'; message: string }) {
    super(options.message);
    this.name = 'WrkError';
    this.code = options.code;
  }
}

const MARK = 'GRAYLANE-WRK ';

/**
 * How a paced run spaces a connection's requests:
 * - `poisson`: after each response a connection pauses for a time drawn from an exponential
 *   distribution with the mean pause, so the requests of all connections together arrive about as
 *   a Poisson process at the rate (independent clients, the usual model of "N requests/s"). Each
 *   wrk thread draws from its own fixed seed: every target of a run gets the same sequence.
 * - `lockstep`: every pause is the mean. Connections that start together stay together: all of
 *   them send at the same instant once per pause, and the latencies are those of that burst's
 *   queue (the last request waits for the connections × CPU per request of the ones before it),
 *   not the latency a proxy adds to a request. The router benchmark's "added p99" was measured so
 *   until it was seen (`--arrivals lockstep` repeats it).
 */
export type Arrivals = 'poisson' | 'lockstep';

// wrk calls `delay` before every request of a connection when the function exists at all, so it is
// defined only for a paced run (a zero delay would still cost a timer per request). wrk takes the
// pause in whole milliseconds; the exponential draw is rounded to the nearest.
function script(pace: { meanDelayMs: number; arrivals: Arrivals } | undefined): string {
  let hooks = '';
  if (pace?.arrivals === 'lockstep') hooks = `function delay() return ${Math.max(1, Math.round(pace.meanDelayMs))} end\n`;
  if (pace?.arrivals === 'poisson') {
    hooks = [
      'local next_id = 0',
      'function setup(thread) next_id = next_id + 1; thread:set("thread_id", next_id) end',
      'function init(args) math.randomseed(7919 * (thread_id or 1)) end',
      `function delay() return math.floor(-${pace.meanDelayMs} * math.log(1 - math.random()) + 0.5) end`,
      '',
    ].join('\n');
  }
  return `${hooks}function done(s, latency, requests)
  local e = s.errors
  io.write(string.format('${MARK}{"requests":%.0f,"durationUs":%.0f,"p50Us":%.0f,"p90Us":%.0f,"p99Us":%.0f,"maxUs":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}\\n',
    s.requests, s.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`;
}

/** The figures from wrk's stdout: the line our `done` hook printed; {@link WrkError} `NoSummary` without one. */
export function parseWrkOutput(stdout: string): WrkFigures {
  const line = stdout.split('\n').find((l) => l.startsWith(MARK));
  if (line === undefined) throw new WrkError({ code: 'NoSummary', message: `wrk printed no summary line:\n${stdout.slice(0, 500)}` });
  const s = JSON.parse(line.slice(MARK.length)) as Record<string, number>;
  const durationS = s.durationUs! / 1e6;
  return {
    requests: s.requests!,
    requestsPerSecond: durationS > 0 ? s.requests! / durationS : 0,
    p50Ms: s.p50Us! / 1000,
    p90Ms: s.p90Us! / 1000,
    p99Ms: s.p99Us! / 1000,
    maxMs: s.maxUs! / 1000,
    errors: s.connect! + s.read! + s.write! + s.timeout!,
    non2xx: s.status!,
  };
}

/** Options of {@link runWrk}. */
export interface WrkOptions {
  url: string;
  /** Keep-alive connections held open for the whole run. */
  connections: number;
  /** wrk threads (event loops); at most `connections`. */
  threads: number;
  durationS: number;
  /**
   * Pace the run at about this many requests/s: each connection pauses `connections / rate`
   * seconds on average after a response before its next request (closed loop: the achieved rate
   * is a little below, and reported), spaced as `arrivals` says.
   */
  rate?: number;
  /** How a paced run spaces requests; default `poisson` (see {@link Arrivals}). */
  arrivals?: Arrivals;
  /** Default `/usr/bin/wrk`. */
  wrkPath?: string;
}

/** A wrk process started by {@link spawnWrk}. */
export interface WrkProcess {
  /** wrk's pid (nice execs it in place). */
  pid: number | undefined;
  /** Asks wrk to stop now (SIGINT: it prints its report, running our `done` hook, and exits 0). */
  interrupt(): void;
  /** Its stdout once it exited 0; {@link WrkError} `WrkMissing` without wrk, `WrkFailed` on another exit. */
  output: Promise<string>;
}

/** Starts wrk with `args` (at nice value `nice`, when given); the one place the benchmarks run it. */
export function spawnWrk(options: { args: string[]; wrkPath?: string; nice?: number | undefined }): WrkProcess {
  const wrkPath = options.wrkPath ?? '/usr/bin/wrk';
  // Through nice(1), so that every thread wrk starts has the priority from its first instant.
  const child = options.nice === undefined
    ? spawn(wrkPath, options.args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('/usr/bin/nice', ['-n', String(options.nice), wrkPath, ...options.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const output = new Promise<string>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new WrkError({ code: 'WrkMissing', message: `wrk is not installed at ${wrkPath} (Debian: apt-get install wrk)` }) : e),
    );
    child.once('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new WrkError({ code: 'WrkFailed', message: `wrk exited with ${code}: ${(err || out).trim().slice(0, 500)}` }));
    });
  });
  // A failure before anyone awaits the output must not go unhandled; awaiting it still throws.
  output.catch(() => undefined);
  return {
    pid: child.pid,
    interrupt: () => {
      // Not child.kill(): after a failed spawn (no wrk) that signals our own process group.
      signalChild(child, 'SIGINT');
    },
    output,
  };
}

/** Runs wrk once and returns its figures. */
export async function runWrk(options: WrkOptions): Promise<WrkFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-wrk-'));
  const file = join(dir, 'report.lua');
  const pace = options.rate === undefined ? undefined : { meanDelayMs: (options.connections * 1000) / options.rate, arrivals: options.arrivals ?? 'poisson' };
  writeFileSync(file, script(pace));
  const threads = Math.max(1, Math.min(options.threads, options.connections));
  const args = ['-c', String(options.connections), '-t', String(threads), '-d', `${options.durationS}s`, '--timeout', '10s', '-s', file, options.url];
  try {
    return parseWrkOutput(await spawnWrk({ args, wrkPath: options.wrkPath }).output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
