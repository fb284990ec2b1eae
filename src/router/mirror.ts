/**
 * Mirrored copies: fire-and-forget requests to another revision. A copy never delays or changes
 * the client's exchange: the body is written without waiting for the copy (a copy that falls
 * behind is dropped), its response is discarded, and copies in flight are bounded router-wide.
 * Copies are counted apart from the target revision's own traffic (`RevisionTotals.mirrored`), so
 * they never move its error rate or latency in `status`, the guard or analysis.
 */
import { PassThrough } from 'node:stream';
import type { RevisionGroup } from './compiled-table.js';
import { upstreamRequestHeaders } from './headers.js';
import type { Instance } from './instance.js';
import type { TimeoutOptions } from './types.js';
import type { UpstreamConnection } from './upstream-pool.js';
import type { UpstreamHandler } from './upstream/upstream-connection.js';
import { UpstreamError } from './upstream/upstream-error.js';
import type { InboundRequest } from './server/inbound-types.js';

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

const MIRROR_HEADER = ['x-graylane-mirror', '1'];

/** One copy in flight: its connection's handler, discarding the response. */
class Copy implements UpstreamHandler, MirrorCopy {
  private settled = false;
  private status = 0;
  private abortFn: ((err: Error) => void) | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limiter: MirrorLimiter,
    private readonly group: RevisionGroup,
    private readonly inst: Instance,
    private readonly conn: UpstreamConnection,
    private readonly body: PassThrough | null,
    responseHeaderMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.settle('timeout');
      this.cancel();
    }, responseHeaderMs);
  }

  onWrite(abort: (err: Error) => void): void {
    this.abortFn = abort;
  }

  onHeaders(statusCode: number): boolean {
    clearTimeout(this.timer);
    this.status = statusCode;
    this.inst.outcome(statusCode < 500, `status ${statusCode}`);
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.inst.pool.release(this.conn);
    this.settle(this.status);
  }

  onError(err: Error): void {
    this.inst.pool.release(this.conn);
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const timedOut = code === 'UPSTREAM_HEADERS_TIMEOUT' || code === 'UPSTREAM_BODY_TIMEOUT' || code === 'UPSTREAM_CONNECT_TIMEOUT';
    if (!this.settled && this.status === 0) this.inst.outcome(false, code || err.message);
    this.settle(timedOut ? 'timeout' : 'error');
  }

  write(chunk: Buffer): void {
    const body = this.body;
    if (!body || body.destroyed || this.settled) return;
    if (body.writableLength > MAX_LAG_BYTES) {
      this.settle('dropped');
      this.cancel();
      return;
    }
    body.write(chunk);
  }

  end(): void {
    if (this.body && !this.body.destroyed) this.body.end();
  }

  private cancel(): void {
    this.body?.destroy();
    if (this.abortFn) this.abortFn(new UpstreamError('UPSTREAM_ABORTED', 'the mirrored copy was given up'));
    else this.conn.discard();
  }

  private settle(status: number | 'error' | 'timeout' | 'dropped'): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.limiter.release();
    // Apart from the revision's own traffic: a copy's failure is not a user's failure.
    if (status === 'error' || status === 'timeout' || (typeof status === 'number' && status >= 500)) this.group.counters.mirrorFailure();
  }
}

/** Starts a copy of `req` to `group`, if the limiter allows; the body sink when there is a body. */
export function startMirror(
  env: { timeouts: TimeoutOptions; mirrors: MirrorLimiter },
  req: InboundRequest,
  group: RevisionGroup,
  hasBody: boolean,
): MirrorCopy | undefined {
  const inst = group.pick();
  if (!inst || !env.mirrors.tryAcquire()) return undefined;
  group.counters.mirrorRequest();
  const conn = inst.pool.acquire();
  const body = hasBody ? new PassThrough() : null;
  const copy = new Copy(env.mirrors, group, inst, conn, body, env.timeouts.responseHeaderMs);
  conn.dispatch(
    {
      path: req.url ?? '/',
      method: req.method ?? 'GET',
      headers: upstreamRequestHeaders(req, false, MIRROR_HEADER, true),
      body,
    },
    copy,
  );
  return hasBody ? copy : undefined;
}
