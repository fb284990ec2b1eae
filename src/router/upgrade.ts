/**
 * HTTP Upgrade (WebSocket) pass-through: the handshake is forwarded, then bytes are piped both
 * ways. The upstream-to-client direction is watched for frame boundaries so that a drain deadline
 * can end the stream with a proper close frame (1001 going away) instead of a cut mid-frame.
 * A tunnel holds one of its instance's concurrency slots for its whole life, is closed after
 * `tunnelIdleMs` without bytes either way, and closes as soon as either side ends its half: a
 * WebSocket has no use for a half-open TCP connection, and keeping one leaves sockets in
 * CLOSE-WAIT until shutdown.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { RevisionGroup } from './compiled-table.js';
import { upstreamRequestHeaders } from './headers.js';
import type { Abortable, Instance } from './instance.js';
import type { TimeoutOptions } from './types.js';
import type { RouterAnswerReason } from './router-answers.js';

/** Tracks WebSocket frame boundaries in one direction without copying payloads. */
export class FrameBoundaryTracker {
  private header: number[] = [];
  private remaining = 0;

  /** True when everything seen so far ends exactly at a frame boundary. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.header.length === 0;
  }

  /** Feeds a chunk as it passes. */
  push(chunk: Buffer): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, len - pos);
        this.remaining -= take;
        pos += take;
        continue;
      }
      this.header.push(chunk[pos++]!);
      const h = this.header;
      if (h.length < 2) continue;
      const masked = (h[1]! & 0x80) !== 0;
      const len7 = h[1]! & 0x7f;
      const extLen = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const need = 2 + extLen + (masked ? 4 : 0);
      if (h.length < need) continue;
      let payload = len7;
      if (extLen === 2) payload = (h[2]! << 8) | h[3]!;
      else if (extLen === 8) {
        payload = 0;
        for (let i = 2; i < 10; i++) payload = payload * 256 + h[i]!;
      }
      this.header = [];
      this.remaining = payload;
    }
  }
}

// Server-to-client close frame, status 1001 (going away), unmasked as servers send it.
const CLOSE_GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

const RELAY_DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

function rawResponse(status: number, message: string, headers: string[]): string {
  let out = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${out}\r\n`;
}

/** Refuses an upgrade (or a request on a connection about to be a tunnel) with one of the router's own answers, and closes. */
export function refuseUpgrade(socket: Duplex, status: number, reason: RouterAnswerReason): void {
  const message = http.STATUS_CODES[status] ?? '';
  const body = `graylane: ${message}\n`;
  const extra = status === 503 ? 'retry-after: 1\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${message}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-graylane-error: ${reason}\r\n${extra}connection: close\r\n\r\n${body}`);
}

// After one side ended its half, how long the other gets to flush before both are destroyed.
const HALF_CLOSE_GRACE_MS = 1000;

class Tunnel implements Abortable {
  private readonly tracker = new FrameBoundaryTracker();
  private closed = false;
  private idleTimer: NodeJS.Timeout;

  constructor(
    private readonly inst: Instance,
    private readonly client: Duplex,
    private readonly upstream: Duplex,
    upstreamHead: Buffer,
    idleMs: number,
  ) {
    inst.active.add(this);
    if (upstreamHead.length > 0) this.tracker.push(upstreamHead);
    this.idleTimer = setTimeout(() => this.finish(), idleMs);
    this.idleTimer.unref();
    upstream.on('data', (c: Buffer) => {
      this.idleTimer.refresh();
      this.tracker.push(c);
    });
    client.on('data', () => this.idleTimer.refresh());
    const done = () => this.finish();
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    // pipe() ends the other side's write half on 'end'; then give it a moment and close both.
    const halfClosed = () => setTimeout(done, HALF_CLOSE_GRACE_MS).unref();
    client.on('end', halfClosed);
    upstream.on('end', halfClosed);
    upstream.pipe(client);
    client.pipe(upstream);
  }

  abortForDrain(): void {
    if (this.closed) return;
    this.upstream.unpipe(this.client);
    this.client.unpipe(this.upstream);
    this.upstream.destroy();
    if (this.tracker.atBoundary) this.client.end(CLOSE_GOING_AWAY);
    else this.client.end();
    // Give the client a moment to answer the close, then let go regardless.
    setTimeout(() => this.client.destroy(), 1000).unref();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.client.destroy();
    this.upstream.destroy();
    this.inst.active.delete(this);
    // The slot taken in proxyUpgrade; release() also checks a draining instance.
    this.inst.release();
  }
}

/** Forwards an Upgrade request to an instance of `group` and joins the two sockets. */
export function proxyUpgrade(
  timeouts: TimeoutOptions,
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  group: RevisionGroup,
): void {
  const startMs = performance.now();
  const counters = group.counters;
  counters.request();
  socket.on('error', () => socket.destroy());
  const inst = group.pick();
  if (!inst) {
    counters.rejection();
    counters.response(503, performance.now() - startMs);
    refuseUpgrade(socket, 503, 'no-ready-instance');
    return;
  }
  // A tunnel holds a slot like any request; upgrades are not queued (clients retry a 503).
  if (!inst.tryAcquire()) {
    counters.rejection();
    counters.response(503, performance.now() - startMs);
    refuseUpgrade(socket, 503, 'overloaded');
    return;
  }
  let slotHeld = true;
  const releaseSlot = () => {
    if (!slotHeld) return;
    slotHeld = false;
    inst.release();
  };
  const up = http.request({
    host: inst.host,
    port: inst.port,
    method: req.method,
    path: req.url,
    headers: upstreamRequestHeaders(req, true),
    agent: false,
    setHost: req.headers.host === undefined,
    timeout: timeouts.connectMs,
  });
  let settled = false;
  const timer = setTimeout(() => up.destroy(new Error('timeout')), timeouts.responseHeaderMs);
  up.on('timeout', () => up.destroy(new Error('timeout')));
  up.on('upgrade', (ures, usocket, uhead) => {
    settled = true;
    clearTimeout(timer);
    usocket.setTimeout(0);
    inst.outcome(true, '');
    counters.response(101, performance.now() - startMs);
    if (socket.destroyed) {
      usocket.destroy();
      releaseSlot();
      return;
    }
    socket.write(rawResponse(101, ures.statusMessage ?? 'Switching Protocols', ures.rawHeaders));
    if (uhead.length > 0) socket.write(uhead);
    if (head.length > 0) usocket.write(head);
    // The tunnel owns the slot from here.
    slotHeld = false;
    new Tunnel(inst, socket, usocket, uhead, timeouts.tunnelIdleMs);
  });
  up.on('response', (ures) => {
    // The upstream declined the upgrade: relay its answer and close.
    settled = true;
    clearTimeout(timer);
    const status = ures.statusCode ?? 502;
    inst.outcome(status < 500, `status ${status}`);
    counters.response(status, performance.now() - startMs);
    const headers: string[] = [];
    const raw = ures.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      // The body is relayed decoded and delimited by the connection's close.
      if (!RELAY_DROP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
    }
    headers.push('connection', 'close');
    socket.write(rawResponse(status, ures.statusMessage ?? '', headers));
    ures.on('close', releaseSlot);
    ures.pipe(socket);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    releaseSlot();
    if (settled) return;
    settled = true;
    inst.outcome(false, err.code ?? err.message);
    const timedOut = err.message === 'timeout';
    if (timedOut) counters.timeout();
    else counters.upstreamError();
    counters.response(timedOut ? 504 : 502, performance.now() - startMs);
    refuseUpgrade(socket, timedOut ? 504 : 502, timedOut ? 'upstream-timeout' : 'upstream-connect-error');
  });
  up.end();
}
