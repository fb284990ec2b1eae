/**
 * One proxied HTTP request, from routing decision to the last byte: instance choice, circuit
 * breaking (slot or queue), forwarding with timeouts, one retry when repeating the request is
 * safe, streaming the response back, and accounting. Failures that are the client's (a body too
 * slow or too large, a client that stops reading, a request undici refuses to send) are
 * answered as nginx does and charged to neither the revision nor the instance.
 */
import type http from 'node:http';
import { PassThrough } from 'node:stream';
import type { RevisionGroup, RouteDecision } from './compiled-table.js';
import type { CompiledRelease } from './compiled-release.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { Instance, Waiter } from './instance.js';
import { startMirror, type MirrorCopy, type MirrorLimiter } from './mirror.js';
import type { TimeoutOptions } from './types.js';
import type { UpstreamConnection } from './upstream-pool.js';
import type { UpstreamHandler } from './upstream/upstream-connection.js';
import { UpstreamError } from './upstream/upstream-error.js';
import type { RouterAnswerReason } from './router-answers.js';
import type { InboundRequest, InboundResponse } from './server/inbound-types.js';

/** What every exchange needs from the router. */
export interface ExchangeEnvironment {
  timeouts: TimeoutOptions;
  /** Request bodies up to this size are kept so the request can be retried. */
  maxReplayBytes: number;
  /** Request bodies larger than this get 413; 0 = no limit. */
  maxRequestBodyBytes: number;
  mirrors: MirrorLimiter;
  /**
   * The router is stopping: a response begun now closes its client's connection, which says so
   * (`connection: close`) rather than being closed once idle, when its client may be sending its
   * next request on it.
   */
  closingConnections: boolean;
}

type Failure = 'drain' | 'client';

// Errors that mean the connection never carried the request: safe to retry anywhere.
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

// The upstream connection's own timeouts: connect, and no response bytes for idleMs (head or body).
const CONNECT_TIMEOUT = 'UPSTREAM_CONNECT_TIMEOUT';
const IDLE_TIMEOUTS = new Set(['UPSTREAM_HEADERS_TIMEOUT', 'UPSTREAM_BODY_TIMEOUT']);
// A kept-alive connection the upstream closed or reset just as we reused it.
const STALE_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UPSTREAM_CLOSED']);
// The request itself cannot be written (a target or header the wire cannot carry): the client's request is at fault.
const REFUSED_ERRORS = new Set(['UPSTREAM_INVALID_REQUEST']);
// The upstream answered with bytes that are no HTTP/1.1 response the router forwards.
const BAD_RESPONSE = 'UPSTREAM_BAD_RESPONSE';
/**
 * Methods that are idempotent (RFC 9110 §9.2.2): repeating them has the effect of sending them
 * once, so one sent on a connection that then failed may go again. POST, PATCH and CONNECT may
 * not: the upstream may have acted on them.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

// Per-request callbacks that every exchange needs are module functions finding their exchange
// through an argument or the emitter, not closures: no function is allocated per request.
const EXCHANGE = Symbol('graylane.exchange');
type ResponseOfExchange = InboundResponse & { [EXCHANGE]?: Exchange };
// The replay buffer of a request without a body: shared, never written to.
const NO_CHUNKS: Buffer[] = [];

function clientClosed(this: ResponseOfExchange): void {
  this[EXCHANGE]?.clientClosed();
}

function headerTimedOut(ex: Exchange): void {
  ex.headerTimedOut();
}

/** Sends a router-generated response (400, 404, 408, 413, 501, 502, 503, 504). */
export function sendPlain(res: InboundResponse, status: number, reason: RouterAnswerReason, text: string): void {
  const body = `${text}\n`;
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-graylane-error': reason,
    'cache-control': 'no-store',
  };
  if (status === 503) headers['retry-after'] = '1';
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * One try of an exchange on one upstream connection: the connection's handler. Callbacks after
 * the exchange gave up on the try (`dead`) are ignored, but the connection always goes back to the
 * pool when it is done with it.
 */
class Attempt implements UpstreamHandler {
  dead = false;
  private abortFn: ((err: Error) => void) | undefined;
  private resumeFn: (() => void) | undefined;

  constructor(
    private readonly ex: Exchange,
    readonly inst: Instance,
    readonly conn: UpstreamConnection,
    /** The connection was open before this request: a reset means the request was not processed. */
    readonly reused: boolean,
  ) {}

  /**
   * Whether the connection began writing the request: it calls `onWrite` just before. Until then
   * no byte of the request reached the upstream.
   */
  get written(): boolean {
    return this.abortFn !== undefined;
  }

  onWrite(abort: (err: Error) => void): void {
    this.abortFn = abort;
  }

  onHeaders(statusCode: number, headers: string[], resume: () => void, statusText: string, contentLength: number | undefined): boolean {
    if (this.dead) return true;
    this.resumeFn = resume;
    return this.ex.onHeaders(statusCode, headers, statusText, contentLength);
  }

  onData(chunk: Buffer): boolean {
    if (this.dead) return true;
    return this.ex.onData(chunk);
  }

  onComplete(): void {
    this.inst.pool.release(this.conn);
    if (!this.dead) this.ex.onComplete();
  }

  onError(err: Error): void {
    this.inst.pool.release(this.conn);
    if (!this.dead) this.ex.onUpstreamError(this, err);
  }

  /** Resumes a response paused for backpressure. */
  resume(): void {
    this.resumeFn?.();
  }

  /** Gives up on this try: the caller accounts for it; undici's later callbacks are ignored. */
  abort(why: string): void {
    if (this.dead) return;
    this.dead = true;
    const err = new UpstreamError('UPSTREAM_ABORTED', why);
    // Before the request was written (connecting) there is no abort handle: drop the connection.
    if (this.abortFn) this.abortFn(err);
    else this.conn.discard(err);
  }
}

/** A proxied request; see the module comment. */
export class Exchange implements Waiter {
  private instance: Instance | undefined;
  private queuedOn: Instance | undefined;
  private slotHeld = false;
  private attempt: Attempt | undefined;
  /** The request body as it goes to the current attempt. */
  private body: PassThrough | undefined;
  private upstreamComplete = false;
  private readonly hasBody: boolean;
  private retried = false;
  private chunks: Buffer[] | null;
  private bufferedBytes = 0;
  private bodyEnded: boolean;
  private bodyFlowing = false;
  private responded = false;
  /** The upstream's declared body length: the last chunk ends the client's response at once. */
  private contentLength: number | undefined;
  private receivedBytes = 0;
  private clientEnded = false;
  private drainHooked = false;
  private done = false;
  private failure: Failure | undefined;
  private headerTimer: NodeJS.Timeout | undefined;
  /** Armed while the client's body flows: no byte for `clientBodyMs` is a 408. */
  private bodyTimer: NodeJS.Timeout | undefined;
  /** Armed while the client does not read its response: `sendMs` of that closes the connection. */
  private sendTimer: NodeJS.Timeout | undefined;
  private bodyBytes = 0;
  /** The client body's `data` listener, kept to remove it (only requests with a body have one). */
  private bodyDataListener: ((chunk: Buffer) => void) | undefined;
  private mirror: MirrorCopy | undefined;
  private readonly startMs: number;
  private readonly group: RevisionGroup;
  private readonly extraHeaders: string[] | undefined;
  private readonly release: CompiledRelease | undefined;
  /** A running unready instance may serve (see `RouteDecision.lastResort`). */
  private readonly lastResort: boolean;

  constructor(
    private readonly env: ExchangeEnvironment,
    private readonly req: InboundRequest,
    private readonly res: InboundResponse,
    decision: RouteDecision,
    mirrorGroup: RevisionGroup | undefined,
  ) {
    this.startMs = performance.now();
    const group = decision.group;
    this.group = group;
    this.extraHeaders = decision.headers;
    this.release = decision.release;
    this.lastResort = decision.lastResort === true;
    const h = req.headers;
    const hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
    this.hasBody = hasBody;
    this.bodyEnded = !hasBody;
    this.chunks = hasBody ? [] : NO_CHUNKS;
    group.counters.request();
    (res as ResponseOfExchange)[EXCHANGE] = this;
    res.on('close', clientClosed);
    if (hasBody) req.pause();
    if (mirrorGroup) this.mirror = startMirror(env, req, mirrorGroup, hasBody);
    this.headerTimer = setTimeout(headerTimedOut, env.timeouts.responseHeaderMs, this);
    this.route(undefined);
  }

  private route(avoid: Instance | undefined): void {
    const inst = this.group.pick(avoid, this.lastResort);
    if (!inst) {
      this.group.counters.rejection();
      this.reply(503, 'no-ready-instance', `graylane: no ready instance of revision ${this.group.name}`);
      return;
    }
    this.admit(inst);
  }

  /** Takes a slot on `inst`, or a place in its queue, or answers 503 (circuit breaking). */
  private admit(inst: Instance): void {
    if (inst.tryAcquire()) {
      this.slotHeld = true;
      this.send(inst);
    } else if (inst.enqueue(this)) {
      this.queuedOn = inst;
    } else {
      this.group.counters.rejection();
      this.reply(503, 'overloaded', `graylane: instance ${inst.id} is at its concurrency and queue limits`);
    }
  }

  /** {@inheritDoc Waiter.dispatch} */
  dispatch(inst: Instance): void {
    this.queuedOn = undefined;
    this.slotHeld = true;
    if (this.done) {
      this.releaseSlot(inst);
      return;
    }
    this.send(inst);
  }

  /** {@inheritDoc Waiter.reroute} */
  reroute(): void {
    const prev = this.queuedOn;
    this.queuedOn = undefined;
    if (!this.done) this.route(prev);
  }

  private send(inst: Instance): void {
    this.instance = inst;
    inst.active.add(this);
    const req = this.req;
    const conn = inst.pool.acquire();
    const attempt = new Attempt(this, inst, conn, conn.connected);
    this.attempt = attempt;
    let body: PassThrough | null = null;
    if (this.hasBody) {
      body = new PassThrough();
      this.body = body;
      if (this.chunks) for (const c of this.chunks) body.write(c);
      if (this.bodyEnded) body.end();
    }
    conn.dispatch(
      {
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers: upstreamRequestHeaders(req, false, undefined, true),
        body,
      },
      attempt,
    );
    if (!this.bodyEnded) {
      // The upstream cannot answer before it has the request: its clock starts when the body ends.
      clearTimeout(this.headerTimer);
      this.headerTimer = undefined;
    }
    if (!this.bodyEnded && !this.bodyFlowing) {
      this.bodyFlowing = true;
      this.bodyDataListener = (chunk: Buffer) => this.onBodyData(chunk);
      req.on('data', this.bodyDataListener);
      req.on('end', () => this.onBodyEnd());
      this.bodyTimer = setTimeout(() => this.onClientBodyTimeout(), this.env.timeouts.clientBodyMs);
      req.resume();
    }
  }

  private onBodyData(chunk: Buffer): void {
    if (this.done) return;
    this.bodyTimer?.refresh();
    this.bodyBytes += chunk.length;
    const limit = this.env.maxRequestBodyBytes;
    if (limit > 0 && this.bodyBytes > limit) {
      this.clientFault(413, 'body-too-large', `graylane: request body exceeds the limit of ${limit} bytes`);
      return;
    }
    if (this.chunks) {
      this.bufferedBytes += chunk.length;
      if (this.bufferedBytes <= this.env.maxReplayBytes) this.chunks.push(chunk);
      else this.chunks = null;
    }
    this.mirror?.write(chunk);
    const body = this.body;
    if (body && !body.destroyed && !body.write(chunk)) {
      this.req.pause();
      body.once('drain', () => this.req.resume());
    }
  }

  private onBodyEnd(): void {
    this.bodyEnded = true;
    clearTimeout(this.bodyTimer);
    if (!this.done && !this.responded && this.headerTimer === undefined && this.attempt) {
      this.headerTimer = setTimeout(headerTimedOut, this.env.timeouts.responseHeaderMs, this);
    }
    this.mirror?.end();
    const body = this.body;
    if (body && !body.destroyed) body.end();
  }

  /** The upstream's status and headers. */
  onHeaders(status: number, rawHeaders: string[], statusText: string, contentLength: number | undefined): boolean {
    clearTimeout(this.headerTimer);
    this.responded = true;
    this.chunks = null;
    this.instance!.outcome(status < 500, `status ${status}`);
    // The client went away: let the response run out so the connection stays reusable.
    if (this.done) return true;
    if (status === 404) this.release?.notFound(this.req, this.group);
    const headers = clientResponseHeaders(rawHeaders, this.extraHeaders);
    this.contentLength = contentLength;
    if (this.env.closingConnections) this.res.shouldKeepAlive = false;
    // HTTP/2 has no reason phrase (RFC 9113 §8.3.2): node warns when given one.
    if (this.req.httpVersionMajor === 2) this.res.writeHead(status, headers);
    else this.res.writeHead(status, statusText, headers);
    if (contentLength === 0 || status === 204 || status === 304 || this.req.method === 'HEAD') this.endClient();
    return true;
  }

  /** Ends the client's response; a client that then reads none of it still gets `sendMs`. */
  private endClient(chunk?: Buffer): void {
    this.clientEnded = true;
    this.res.end(chunk);
    if (this.res.writableNeedDrain) this.armSendTimer();
  }

  private armSendTimer(): void {
    if (this.sendTimer) this.sendTimer.refresh();
    else this.sendTimer = setTimeout(() => this.onSendTimeout(), this.env.timeouts.sendMs);
  }

  private onSendTimeout(): void {
    if (this.done || this.res.writableFinished) return;
    // The client stopped reading: its fault; closing frees the upstream slot (see clientClosed).
    this.failure = 'client';
    this.group.counters.clientError();
    this.res.destroy();
  }

  /** A chunk of the response body; false pauses the upstream until the client drains. */
  onData(chunk: Buffer): boolean {
    if (this.done || this.clientEnded) return true;
    this.receivedBytes += chunk.length;
    if (this.receivedBytes === this.contentLength) {
      // The whole body is here: headers, last chunk and end in one write.
      this.endClient(chunk);
      return true;
    }
    if (this.res.write(chunk)) return true;
    this.armSendTimer();
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', () => this.onClientDrain());
    }
    return false;
  }

  private onClientDrain(): void {
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    this.attempt?.resume();
  }

  /** The response is complete. */
  onComplete(): void {
    this.upstreamComplete = true;
    this.releaseSlot(this.instance);
    if (this.done) return;
    if (!this.clientEnded) this.endClient();
  }

  /** The upstream request failed (connecting, sending, or mid-response). */
  onUpstreamError(attempt: Attempt, err: NodeJS.ErrnoException): void {
    const inst = attempt.inst;
    const failure = this.failure;
    if (failure === 'client' || failure === 'drain') {
      this.releaseSlot(inst);
      return;
    }
    const code = err.code ?? '';
    const counters = this.group.counters;
    if (!attempt.written && REFUSED_ERRORS.has(code)) {
      // Nothing went out and nothing was wrong upstream: the request itself cannot be sent.
      this.releaseSlot(inst);
      this.clientFault(400, 'unforwardable-request', `graylane: the request cannot be forwarded: ${err.message}`);
      return;
    }
    const connectTimeout = code === CONNECT_TIMEOUT;
    const idleTimeout = IDLE_TIMEOUTS.has(code);
    if (connectTimeout || idleTimeout) counters.timeout();
    else counters.upstreamError();
    if (this.responded) {
      // Mid-body: the client cannot get a whole response any more.
      inst.outcome(false, err.message);
      counters.cutOff();
      this.releaseSlot(inst);
      this.res.destroy();
      return;
    }
    const connectFailure = connectTimeout || CONNECT_ERRORS.has(code);
    const staleSocket = attempt.reused && STALE_ERRORS.has(code);
    // Safe to send again: no byte of it reached the upstream, or repeating it changes nothing.
    // A reset on a reused connection does not prove the upstream did not act on the request.
    const neverSent = connectFailure || !attempt.written;
    const repeatable = neverSent || (STALE_ERRORS.has(code) && IDEMPOTENT.has(this.req.method ?? ''));
    if (!staleSocket) inst.outcome(false, code || err.message);
    this.releaseSlot(inst);
    if (!this.done && !this.retried && repeatable && this.chunks !== null) {
      // Another instance of the revision; the same one only when its socket, not it, failed.
      const next = this.group.pick(inst, this.lastResort) ?? (staleSocket && (inst.usable || (this.lastResort && inst.lastResortUsable)) ? inst : undefined);
      if (next) {
        // The upstream probably closed its idle connections together: do not try another one.
        if (staleSocket) inst.closeIdleSockets();
        this.retried = true;
        this.attempt = undefined;
        this.body = undefined;
        this.admit(next);
        return;
      }
    }
    if (connectTimeout) this.reply(504, 'upstream-connect-timeout', `graylane: connecting to ${inst.address} timed out`);
    else if (idleTimeout) this.reply(504, 'upstream-idle-timeout', `graylane: ${inst.address}: no data for ${this.env.timeouts.idleMs} ms`);
    else if (connectFailure) this.reply(502, 'upstream-connect-error', `graylane: cannot connect to ${inst.address} (${code})`);
    else if (code === BAD_RESPONSE) this.reply(502, 'upstream-bad-response', `graylane: ${inst.address}: ${err.message}`);
    else this.reply(502, 'upstream-reset', `graylane: ${inst.address} closed the connection (${code || err.message})`);
  }

  /** The response headers did not arrive in time (the header timer's callback). */
  headerTimedOut(): void {
    if (this.done || this.responded) return;
    const counters = this.group.counters;
    if (this.queuedOn) {
      this.queuedOn.dequeue(this);
      this.queuedOn = undefined;
      counters.timeout();
      this.reply(504, 'upstream-response-timeout', `graylane: no free slot within ${this.env.timeouts.responseHeaderMs} ms`);
      return;
    }
    const attempt = this.attempt;
    const inst = this.instance;
    if (!attempt || !inst) return;
    const why = `no response headers within ${this.env.timeouts.responseHeaderMs} ms`;
    attempt.abort(why);
    counters.timeout();
    inst.outcome(false, why);
    this.releaseSlot(inst);
    this.reply(504, 'upstream-response-timeout', `graylane: ${inst.address}: ${why}`);
  }

  /** {@inheritDoc Abortable.abortForDrain} */
  abortForDrain(): void {
    if (this.done) return;
    const inst = this.instance;
    this.failure = 'drain';
    this.attempt?.abort('drain deadline');
    this.body?.destroy();
    if (!this.responded) {
      this.group.counters.timeout();
      this.releaseSlot(inst);
      this.reply(504, 'drain-deadline', `graylane: instance ${inst?.id ?? '?'} was removed before it answered`);
      return;
    }
    // Streams without a declared length (SSE, chunked) can end cleanly; the client reconnects.
    const endable = this.contentLength === undefined;
    this.releaseSlot(inst);
    if (this.clientEnded) return;
    this.clientEnded = true;
    if (endable) this.res.end();
    else this.res.destroy();
  }

  private onClientBodyTimeout(): void {
    this.clientFault(408, 'client-body-timeout', `graylane: no request body data for ${this.env.timeouts.clientBodyMs} ms`);
  }

  /**
   * Ends an exchange for the client's fault (408, 413, 400): work upstream stops, the connection
   * closes (its remaining body is not read), and only `clientErrors` counts it.
   */
  private clientFault(status: 400 | 408 | 413, reason: RouterAnswerReason, text: string): void {
    if (this.done || this.failure !== undefined) return;
    this.failure = 'client';
    clearTimeout(this.bodyTimer);
    this.group.counters.clientError();
    if (this.bodyDataListener) this.req.off('data', this.bodyDataListener);
    if (this.queuedOn) {
      this.queuedOn.dequeue(this);
      this.queuedOn = undefined;
    }
    this.attempt?.abort(reason);
    this.body?.destroy();
    this.releaseSlot(this.instance);
    this.res.shouldKeepAlive = false;
    this.reply(status, reason, text);
  }

  private reply(status: number, reason: RouterAnswerReason, text: string): void {
    clearTimeout(this.headerTimer);
    if (this.done) return;
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    // The body may still be arriving; read it so the keep-alive connection stays usable.
    if (!this.bodyEnded && !this.bodyFlowing) this.req.resume();
    if (this.env.closingConnections) this.res.shouldKeepAlive = false;
    sendPlain(this.res, status, reason, text);
  }

  private releaseSlot(inst: Instance | undefined): void {
    if (!inst) return;
    if (this.slotHeld) {
      this.slotHeld = false;
      inst.active.delete(this);
      inst.release();
    } else if (inst.active.delete(this) && inst.draining) {
      inst.checkDrained();
    }
  }

  /** The client's response closed, finished or not (its `close` event). */
  clientClosed(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.headerTimer);
    clearTimeout(this.bodyTimer);
    clearTimeout(this.sendTimer);
    const res = this.res;
    const status = res.headersSent ? res.statusCode : 499;
    if (!res.writableFinished) {
      // The client went away (or was cut off): stop work upstream.
      if (this.failure === undefined) this.failure = 'client';
      if (this.queuedOn) {
        this.queuedOn.dequeue(this);
        this.queuedOn = undefined;
      }
      if (!this.upstreamComplete) {
        this.attempt?.abort('client went away');
        this.body?.destroy();
      }
      this.releaseSlot(this.instance);
    } else if (this.upstreamComplete || !this.responded) {
      this.releaseSlot(this.instance);
    }
    this.group.counters.response(status, performance.now() - this.startMs);
  }
}
