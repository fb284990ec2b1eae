/**
 * A constant-rate HTTP load generator (open model): request i is due at start + i/rate whatever
 * happened to earlier ones, so a slow or failing target cannot slow the load down and hide its
 * own failures, as a closed-loop client would. In-flight requests are bounded; a request due
 * while the bound is reached is not sent and is counted as `dropped`.
 * Connections are keep-alive (undici), as browsers and proxies use them.
 */
import { Agent } from 'undici';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
import { classifyRequestError, emptyFailureCounts, type FailureReason } from './request-failure.js';
import { increment, SERVED_BY_HEADER } from './served-by.js';

/** What to send, how fast and for how long. */
export interface LoadOptions {
  /** Absolute http(s) URL every request goes to. */
  url: string;
  /** Requests started per second (> 0). */
  ratePerSecond: number;
  /** How long to send for. The run also stops when `signal` aborts. */
  durationMs: number;
  /** Stops sending early; in-flight requests still complete and are counted. */
  signal?: AbortSignal;
  /** Bound on concurrent requests (and connections); default max(64, ratePerSecond). */
  maxInFlight?: number;
  /** A request without a complete answer after this long is a timeout failure; default 5000. */
  timeoutMs?: number;
  /** HTTP method; default GET. */
  method?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Length of a reporting window; default 1000. */
  windowMs?: number;
  /** Called at the end of each window, and once for the last partial window. */
  onWindow?: (window: LoadWindow) => void;
}

/** One reporting window. Requests are counted as sent when sent, as ok/failed when answered. */
export interface LoadWindow {
  /** 0 for the first window. */
  index: number;
  /** Window start, ms since the run started. */
  startMs: number;
  /** Requests sent in the window. */
  sent: number;
  /** Requests answered with a status below 500 in the window. */
  ok: number;
  /** Requests that failed in the window: connection errors, timeouts and 5xx answers. */
  failed: number;
  /** `failed` by reason. */
  failures: Record<FailureReason, number>;
  /** Requests due in the window but not sent because `maxInFlight` were already in flight. */
  dropped: number;
  /** Latency of the requests answered in the window (any status), ms. */
  latencyMs: LatencySummary;
  /** Answers by their `x-served-by` header (`web@v2`); answers without it are not counted. */
  servedBy: Record<string, number>;
}

/** The whole run. `sent + dropped` is the number of requests that were due. */
export interface LoadSummary {
  url: string;
  ratePerSecond: number;
  /** From the first request to the last answer, ms. */
  elapsedMs: number;
  /** Requests sent per second of sending time. */
  achievedRatePerSecond: number;
  sent: number;
  ok: number;
  failed: number;
  failures: Record<FailureReason, number>;
  dropped: number;
  /** Answers by HTTP status code. */
  statusCounts: Record<string, number>;
  latencyMs: LatencySummary;
  servedBy: Record<string, number>;
  /** Every window, in order. */
  windows: LoadWindow[];
}

/** Options that cannot produce a meaningful run. */
export class InvalidLoadOptionsError extends Error {
  readonly code = 'INVALID_LOAD_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidLoadOptionsError';
  }
}

/** Checks load options; throws InvalidLoadOptionsError naming the field and why. */
export function validateLoadOptions(options: LoadOptions): void {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new InvalidLoadOptionsError(`url: "${options.url}" is not an absolute URL (e.g. http://127.0.0.1:8080/)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidLoadOptionsError(`url: "${options.url}" must be http or https`);
  const positive = (name: string, v: number | undefined, optional: boolean) => {
    if (v === undefined && optional) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidLoadOptionsError(`${name}: must be a number > 0, got ${String(v)}`);
  };
  positive('ratePerSecond', options.ratePerSecond, false);
  positive('durationMs', options.durationMs, false);
  positive('maxInFlight', options.maxInFlight, true);
  positive('timeoutMs', options.timeoutMs, true);
  positive('windowMs', options.windowMs, true);
}

class WindowCounter {
  sent = 0;
  ok = 0;
  failed = 0;
  dropped = 0;
  failures = emptyFailureCounts();
  latency = new LatencyHistogram();
  servedBy: Record<string, number> = {};

  constructor(readonly index: number, readonly startMs: number) {}

  get active(): boolean {
    return this.sent + this.ok + this.failed + this.dropped > 0;
  }

  toWindow(): LoadWindow {
    return {
      index: this.index, startMs: this.startMs, sent: this.sent, ok: this.ok, failed: this.failed,
      failures: { ...this.failures }, dropped: this.dropped, latencyMs: this.latency.summary(), servedBy: { ...this.servedBy },
    };
  }
}

/** Runs constant-rate load against `options.url`; resolves when the run is over and drained. */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  validateLoadOptions(options);
  const rate = options.ratePerSecond;
  const timeoutMs = options.timeoutMs ?? 5000;
  const windowMs = options.windowMs ?? 1000;
  const maxInFlight = Math.floor(options.maxInFlight ?? Math.max(64, rate));
  const method = options.method ?? 'GET';
  const url = new URL(options.url);
  const origin = url.origin;
  const path = `${url.pathname}${url.search}`;
  const headers = options.headers ?? {};
  const agent = new Agent({
    connections: maxInFlight,
    keepAliveTimeout: 30_000,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  const intervalMs = 1000 / rate;
  const totalDue = Math.max(1, Math.floor((options.durationMs * rate) / 1000));
  const total = { ok: 0, failed: 0, dropped: 0, sent: 0, failures: emptyFailureCounts(), statusCounts: {} as Record<string, number>, servedBy: {} as Record<string, number> };
  const latency = new LatencyHistogram();
  const windows: LoadWindow[] = [];
  const t0 = performance.now();
  let current = new WindowCounter(0, 0);
  let inFlight = 0;
  let scheduled = 0;
  let lastSendMs = 0;
  let stopSending = false;
  let onIdle: (() => void) | undefined;

  const rollWindows = (nowMs: number) => {
    while (nowMs >= current.startMs + windowMs) {
      const closed = current.toWindow();
      windows.push(closed);
      options.onWindow?.(closed);
      current = new WindowCounter(current.index + 1, current.startMs + windowMs);
    }
  };

  const settle = (startedAt: number, outcome: { status: number; servedBy?: string } | { error: FailureReason }) => {
    const now = performance.now();
    rollWindows(now - t0);
    const latencyMs = now - startedAt;
    if ('error' in outcome) {
      current.failed += 1; total.failed += 1;
      current.failures[outcome.error] += 1; total.failures[outcome.error] += 1;
    } else {
      current.latency.record(latencyMs);
      latency.record(latencyMs);
      increment(total.statusCounts, String(outcome.status));
      if (outcome.servedBy !== undefined) {
        increment(current.servedBy, outcome.servedBy);
        increment(total.servedBy, outcome.servedBy);
      }
      if (outcome.status >= 500) {
        current.failed += 1; total.failed += 1;
        current.failures.http5xx += 1; total.failures.http5xx += 1;
      } else {
        current.ok += 1; total.ok += 1;
      }
    }
    inFlight -= 1;
    if (inFlight === 0 && stopSending) onIdle?.();
  };

  const fire = () => {
    inFlight += 1;
    current.sent += 1; total.sent += 1;
    const startedAt = performance.now();
    lastSendMs = startedAt - t0;
    agent
      .request({ origin, path, method, headers })
      .then(async (res) => {
        await res.body.dump();
        const servedBy = res.headers[SERVED_BY_HEADER];
        settle(startedAt, { status: res.statusCode, servedBy: Array.isArray(servedBy) ? servedBy[0] : servedBy });
      })
      .catch((err: unknown) => settle(startedAt, { error: classifyRequestError(err) }));
  };

  // Windows close on time even when nothing is answered (a hung target still gets its lines).
  const windowTimer = setInterval(() => rollWindows(performance.now() - t0), Math.min(250, windowMs / 4));
  await new Promise<void>((resolveSending) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (stopSending) return;
      stopSending = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', finish);
      resolveSending();
    };
    const tick = () => {
      const elapsed = performance.now() - t0;
      rollWindows(elapsed);
      // Catch up on everything due: after an event-loop stall the rate is kept by a burst.
      const due = Math.min(totalDue, Math.floor(elapsed / intervalMs) + 1);
      while (scheduled < due) {
        scheduled += 1;
        if (inFlight >= maxInFlight) {
          current.dropped += 1; total.dropped += 1;
        } else fire();
      }
      if (scheduled >= totalDue) return finish();
      const nextDueMs = scheduled * intervalMs;
      timer = setTimeout(tick, Math.max(1, nextDueMs - (performance.now() - t0)));
    };
    if (options.signal?.aborted) return finish();
    options.signal?.addEventListener('abort', finish);
    tick();
  });

  // Let in-flight requests finish; each is bounded by the client timeouts.
  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      onIdle = resolve;
      if (inFlight === 0) resolve();
    });
  }
  clearInterval(windowTimer);
  const endMs = performance.now() - t0;
  rollWindows(endMs);
  if (current.active) {
    const last = current.toWindow();
    windows.push(last);
    options.onWindow?.(last);
  }
  await agent.close();

  const sendingMs = Math.max(lastSendMs + intervalMs, 1);
  return {
    url: options.url,
    ratePerSecond: rate,
    elapsedMs: Math.round(endMs),
    achievedRatePerSecond: Math.round((total.sent / sendingMs) * 1000 * 10) / 10,
    sent: total.sent,
    ok: total.ok,
    failed: total.failed,
    failures: total.failures,
    dropped: total.dropped,
    statusCounts: total.statusCounts,
    latencyMs: latency.summary(),
    servedBy: total.servedBy,
    windows,
  };
}
