/**
 * Constant-rate load from Debian's `wrk` with every request logged: the seamless and crash
 * benchmarks need per-request send times, latencies, statuses and who answered, and a JavaScript
 * client on the same 2 cores stalls with the machine while app processes boot (its own lags were
 * in the figures). wrk is a C event loop; a Lua script paces it and records each request.
 *
 * One connection per wrk thread, so a thread's `request` and `response` calls pair up. Thread k of
 * T sends its i-th request at T0 + (k + i·T) / rate (open model, like the JavaScript loop): a
 * request due while its connection still waits for the previous answer goes out late, and its
 * latency is counted from when it was due, not when it went out (no coordinated omission). Time is
 * CLOCK_MONOTONIC through LuaJIT's FFI, the clock under `performance.now()`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestLog } from './lib-daemon.js';
import { spawnWrk, WrkError } from './lib-wrk.js';

/** Options of {@link startWrkLoad}. */
export interface WrkLoadOptions {
  url: string;
  /** Paths sent in turn (request i of the whole run goes to `paths[i % length]`); default the URL's own. */
  paths?: string[];
  ratePerSecond: number;
  /** Keep-alive connections, one per wrk thread; default 16. */
  connections?: number;
  /** Header whose value is logged as `servedBy`; default `x-served-by`. */
  servedByHeader?: string;
  /** Default `/usr/bin/wrk`. */
  wrkPath?: string;
  /** wrk stops by itself after this long if never stopped; default 600 s. */
  maxDurationS?: number;
  /**
   * wrk's nice value (-20 to 19; below 0 needs root): a client on another machine is not
   * descheduled by what the host under test runs, and one given the CPU first comes closer to that.
   */
  nice?: number | undefined;
}

/** What a stopped wrk load measured. */
export interface WrkLoadResult {
  log: RequestLog;
  /** wrk's own error counts: a request failed on a connection is also logged with status 0. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

/** A running wrk load. */
export interface WrkLoad {
  /** Stops wrk (SIGINT: it reports what it recorded; requests still in flight are not logged). */
  stop(): Promise<WrkLoadResult>;
}

const RECORD = 'GRAYLANE-REQ ';
const SUMMARY = 'GRAYLANE-ERR ';

// `armed`: wrk calls `request` once in thread 0's state before the run to verify the script (wrk.c
// main → script_verify_request); that call sends nothing. Every real request of a paced run comes
// after a `delay` call, except one resent after a reconnect, by which time `armed` is set.
function script(servedByHeader: string): string {
  const header = JSON.stringify(servedByHeader.toLowerCase());
  return `local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } graylane_timespec;
int clock_gettime(int clk, graylane_timespec *ts);
int usleep(unsigned int usec);
]]
local ts = ffi.new("graylane_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local threads = {}
local count = 0
function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end
function init(args)
  t0 = tonumber(args[1]); interval = tonumber(args[2]); nthreads = tonumber(args[3])
  paths = {}
  for i = 4, #args do paths[#paths + 1] = args[i] end
  n = 0; recs = {}; pending = nil; prevDone = 0; armed = false
end
local function due(i) return t0 + (id + i * nthreads) * interval end
function delay()
  armed = true
  local d = due(n) - now_ms()
  if d <= 0 then return 0 end
  return math.ceil(d)
end
function request()
  if not armed then return wrk.format() end
  local t = now_ms()
  if pending then
    recs[#recs + 1] = string.format("%.3f,%.3f,0,", pending, t)
  end
  local s = due(n)
  -- After a failed connection wrk reconnects and asks again at once, without delay(): wait for the
  -- request's turn here (this thread has no other connection to serve), so a dead router costs one
  -- failed request per turn, as with a client that does not retry.
  if s - t > 1 then
    ffi.C.usleep(math.floor((s - t) * 1000))
    t = now_ms()
  end
  local path = nil
  if #paths > 0 then path = paths[(id + n * nthreads) % #paths + 1] end
  n = n + 1
  if prevDone > s then pending = s else pending = t end
  return wrk.format(nil, path)
end
function response(status, headers, body)
  local t = now_ms()
  prevDone = t
  if pending then
    local by = ""
    for k, v in pairs(headers) do if string.lower(k) == ${header} then by = v end end
    recs[#recs + 1] = string.format("%.3f,%.3f,%d,%s", pending, t, status, by)
    pending = nil
  end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for _, line in ipairs(t:get("recs")) do io.write("${RECORD}", line, "\\n") end
  end
  local e = summary.errors
  io.write(string.format("${SUMMARY}%d %d %d %d\\n", e.connect, e.read, e.write, e.timeout))
end
`;
}

/**
 * The log from wrk's output, times moved from CLOCK_MONOTONIC to `performance.now()` by
 * subtracting `offsetMs`, in send order. {@link WrkError} `NoSummary` when the run did not end
 * with our summary line.
 */
export function parseWrkLog(stdout: string, offsetMs: number): WrkLoadResult {
  const rows: Array<{ sent: number; done: number; status: number; by: string }> = [];
  let summary: number[] | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith(RECORD)) {
      const [sent, done, status, by] = line.slice(RECORD.length).split(',');
      rows.push({ sent: Number(sent) - offsetMs, done: Number(done) - offsetMs, status: Number(status), by: by ?? '' });
    } else if (line.startsWith(SUMMARY)) {
      summary = line.slice(SUMMARY.length).split(' ').map(Number);
    }
  }
  if (summary === undefined) throw new WrkError({ code: 'NoSummary', message: `wrk printed no summary line:\n${stdout.slice(-500)}` });
  rows.sort((a, b) => a.sent - b.sent);
  const log: RequestLog = { sentMs: [], doneMs: [], status: [], servedBy: [], errors: new Map() };
  for (const r of rows) {
    if (r.status === 0) log.errors.set(log.sentMs.length, 'connection error or timeout (wrk reconnected)');
    log.sentMs.push(r.sent);
    log.doneMs.push(r.done);
    log.status.push(r.status);
    log.servedBy.push(r.by);
  }
  const [connect = 0, read = 0, write = 0, timeout = 0] = summary;
  return { log, socketErrors: { connect, read, write, timeout } };
}

/** Starts wrk at a constant rate; see the module comment. */
export function startWrkLoad(options: WrkLoadOptions): WrkLoad {
  const connections = options.connections ?? 16;
  const dir = mkdtempSync(join(tmpdir(), 'graylane-wrk-log-'));
  const file = join(dir, 'log.lua');
  writeFileSync(file, script(options.servedByHeader ?? 'x-served-by'));
  const offsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  // Threads take a moment to start: the first request is due shortly after.
  const t0 = Number(process.hrtime.bigint()) / 1e6 + 200;
  const args = [
    '-c', String(connections), '-t', String(connections), '-d', `${options.maxDurationS ?? 600}s`, '--timeout', '10s', '-s', file, options.url,
    '--', t0.toFixed(3), String(1000 / options.ratePerSecond), String(connections), ...(options.paths ?? []),
  ];
  const wrk = spawnWrk({ args, wrkPath: options.wrkPath, nice: options.nice });
  return {
    async stop() {
      try {
        wrk.interrupt();
        return parseWrkLog(await wrk.output, offsetMs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
