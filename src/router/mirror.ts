/**
 * Mirrored copies: fire-and-forget requests to another revision. A copy never delays or changes
 * the client's exchange: the body is written without waiting for the copy (a copy that falls
 * behind is dropped), its response is discarded, and copies in flight are bounded router-wide.
 */
import http from 'node:http';
import type { RevisionGroup } from './compiled-table.js';
import { upstreamRequestHeaders } from './headers.js';
import type { TimeoutOptions } from './types.js';

/** Bounds mirrored copies in flight. */
export class MirrorLimiter {
  inflight = 0;
  skipped = 0;
  constructor(readonly max: number) {}
  tryAcquire(): boolean {
    if (this.inflight >= this.max) {
      this.skipped++;
      return false;
    }
    this.inflight++;
    return true;
  }
  release(): void {
    this.inflight--;
  }
}

/** The client-facing side of a copy: where the exchange feeds the request body. */
export interface MirrorCopy {
  write(chunk: Buffer): void;
  end(): void;
}

// A copy whose upstream lags this far behind the client's body is dropped, not buffered.
const MAX_LAG_BYTES = 1 << 20;

/** Starts a copy of `req` to `group`, if the limiter allows; undefined otherwise. */
export function startMirror(
  env: { timeouts: TimeoutOptions; mirrors: MirrorLimiter },
  req: http.IncomingMessage,
  group: RevisionGroup,
  hasBody: boolean,
): MirrorCopy | undefined {
  const inst = group.pick();
  if (!inst || !env.mirrors.tryAcquire()) return undefined;
  const counters = group.counters;
  counters.request();
  const startMs = performance.now();
  let settled = false;
  const settle = (status: number | 'error' | 'timeout') => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    env.mirrors.release();
    if (status === 'error') counters.upstreamError();
    else if (status === 'timeout') counters.timeout();
    if (status === 'error' || status === 'timeout') counters.response(502, performance.now() - startMs);
    else counters.response(status, performance.now() - startMs);
  };
  const up = http.request({
    host: inst.host,
    port: inst.port,
    method: req.method,
    path: req.url,
    headers: upstreamRequestHeaders(req, false, ['x-graylane-mirror', '1']),
    agent: inst.agent,
    setHost: req.headers.host === undefined,
  });
  const timer = setTimeout(() => {
    settle('timeout');
    up.destroy();
  }, env.timeouts.responseHeaderMs);
  up.setTimeout(env.timeouts.idleMs, () => {
    settle('timeout');
    up.destroy();
  });
  up.on('response', (ures) => {
    const status = ures.statusCode ?? 502;
    inst.outcome(status < 500, `status ${status}`);
    ures.on('end', () => settle(status));
    ures.on('error', () => settle('error'));
    ures.resume();
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    if (!settled) inst.outcome(false, err.code ?? err.message);
    settle('error');
  });
  if (!hasBody) {
    up.end();
    return undefined;
  }
  return {
    write(chunk) {
      if (up.destroyed) return;
      if (up.writableLength > MAX_LAG_BYTES) {
        settle('error');
        up.destroy();
        return;
      }
      up.write(chunk);
    },
    end() {
      if (!up.destroyed) up.end();
    },
  };
}
