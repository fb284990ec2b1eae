/**
 * One proxied HTTP request, from routing decision to the last byte: instance choice, circuit
 * breaking (slot or queue), forwarding with timeouts, one retry when the upstream connection
 * failed before anything was processed, streaming the response back, and accounting.
 */
import http from 'node:http';
import type { RevisionGroup, RouteDecision } from './compiled-table.js';
import type { CompiledRelease } from './compiled-release.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { Instance, Waiter } from './instance.js';
import { startMirror, type MirrorCopy, type MirrorLimiter } from './mirror.js';
import type { TimeoutOptions } from './types.js';

/** What every exchange needs from the router. */
export interface ExchangeEnvironment {
  timeouts: TimeoutOptions;
  /** Request bodies up to this size are kept so the request can be retried. */
  maxReplayBytes: number;
  mirrors: MirrorLimiter;
}

type Failure = 'connect-timeout' | 'header-timeout' | 'idle-timeout' | 'drain' | 'client';

// Errors that mean the connection never carried the request: safe to retry anywhere.
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

class ProxyTimeout extends Error {
  readonly code = 'ETIMEDOUT';
}

/** Sends a router-generated response (404, 502, 503, 504). */
export function sendPlain(res: http.ServerResponse, status: number, reason: string, text: string): void {
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

/** A proxied request; see the module comment. */
export class Exchange implements Waiter {
  private instance: Instance | undefined;
  private queuedOn: Instance | undefined;
  private slotHeld = false;
  private upstream: http.ClientRequest | undefined;
  private upstreamResponse: http.IncomingMessage | undefined;
  private retried = false;
  private chunks: Buffer[] | null;
  private bufferedBytes = 0;
  private bodyEnded: boolean;
  private bodyFlowing = false;
  private responded = false;
  private done = false;
  private failure: Failure | undefined;
  private headerTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private mirror: MirrorCopy | undefined;
  private readonly startMs: number;
  private readonly group: RevisionGroup;
  private readonly extraHeaders: string[] | undefined;
  private readonly release: CompiledRelease | undefined;

  constructor(
    private readonly env: ExchangeEnvironment,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    decision: RouteDecision,
    mirrorGroup: RevisionGroup | undefined,
  ) {
    this.startMs = performance.now();
    const group = decision.group;
    this.group = group;
    this.extraHeaders = decision.headers;
    this.release = decision.release;
    const h = req.headers;
    const hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
    this.bodyEnded = !hasBody;
    this.chunks = [];
    group.counters.request();
    res.on('close', this.onClientClose);
    if (hasBody) req.pause();
    if (mirrorGroup) this.mirror = startMirror(env, req, mirrorGroup, hasBody);
    this.headerTimer = setTimeout(this.onHeaderTimeout, env.timeouts.responseHeaderMs);
    this.route(undefined);
  }

  private route(avoid: Instance | undefined): void {
    const inst = this.group.pick(avoid);
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
    const headers = upstreamRequestHeaders(req, false);
    const up = http.request({
      host: inst.host,
      port: inst.port,
      method: req.method,
      path: req.url,
      headers,
      agent: inst.agent,
      setHost: req.headers.host === undefined,
    });
    this.upstream = up;
    up.on('socket', (socket) => {
      if (!socket.connecting) return;
      this.connectTimer = setTimeout(() => {
        if (this.upstream !== up) return;
        this.failure = 'connect-timeout';
        up.destroy(new ProxyTimeout(`connect timed out after ${this.env.timeouts.connectMs} ms`));
      }, this.env.timeouts.connectMs);
      socket.once('connect', () => clearTimeout(this.connectTimer));
    });
    up.setTimeout(this.env.timeouts.idleMs, () => {
      if (this.upstream !== up || this.done) return;
      this.failure = 'idle-timeout';
      up.destroy(new ProxyTimeout(`no data for ${this.env.timeouts.idleMs} ms`));
    });
    up.on('response', (ures) => this.onResponse(up, ures));
    up.on('error', (err: NodeJS.ErrnoException) => this.onUpstreamError(up, err));
    if (this.chunks && this.chunks.length > 0) for (const c of this.chunks) up.write(c);
    if (this.bodyEnded) {
      up.end();
    } else if (!this.bodyFlowing) {
      this.bodyFlowing = true;
      req.on('data', this.onBodyData);
      req.on('end', this.onBodyEnd);
      req.resume();
    }
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    if (this.chunks) {
      this.bufferedBytes += chunk.length;
      if (this.bufferedBytes <= this.env.maxReplayBytes) this.chunks.push(chunk);
      else this.chunks = null;
    }
    this.mirror?.write(chunk);
    const up = this.upstream;
    if (up && !up.destroyed && !up.write(chunk)) {
      this.req.pause();
      up.once('drain', () => this.req.resume());
    }
  };

  private readonly onBodyEnd = (): void => {
    this.bodyEnded = true;
    this.mirror?.end();
    const up = this.upstream;
    if (up && !up.destroyed) up.end();
  };

  private onResponse(up: http.ClientRequest, ures: http.IncomingMessage): void {
    if (this.upstream !== up) return;
    clearTimeout(this.headerTimer);
    clearTimeout(this.connectTimer);
    this.responded = true;
    this.upstreamResponse = ures;
    this.chunks = null;
    const status = ures.statusCode ?? 502;
    this.instance!.outcome(status < 500, `status ${status}`);
    if (this.done) {
      ures.resume();
      return;
    }
    ures.on('end', () => this.releaseSlot(this.instance));
    ures.on('error', () => {
      // The upstream died mid-body: the client cannot get a whole response any more.
      if (this.failure === undefined) this.group.counters.upstreamError();
      this.releaseSlot(this.instance);
      this.res.destroy();
    });
    if (status === 404) this.release?.notFound(this.req, this.group);
    this.res.writeHead(status, ures.statusMessage, clientResponseHeaders(ures.rawHeaders, this.extraHeaders));
    ures.pipe(this.res);
  }

  private onUpstreamError(up: http.ClientRequest, err: NodeJS.ErrnoException): void {
    if (this.upstream !== up) return;
    clearTimeout(this.connectTimer);
    const inst = this.instance!;
    const failure = this.failure;
    if (failure === 'client' || failure === 'drain') {
      this.releaseSlot(inst);
      return;
    }
    const counters = this.group.counters;
    const timedOut = failure === 'connect-timeout' || failure === 'header-timeout' || failure === 'idle-timeout';
    if (timedOut) counters.timeout();
    else counters.upstreamError();
    if (this.responded) {
      // Mid-body: the error handler on the response (or this one) cuts the client off.
      inst.outcome(false, err.message);
      this.releaseSlot(inst);
      this.res.destroy();
      return;
    }
    const code = err.code ?? '';
    const connectFailure = failure === 'connect-timeout' || CONNECT_ERRORS.has(code);
    // A kept-alive socket the upstream closed just as we reused it: the request never got there.
    const staleSocket = up.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
    if (!staleSocket) inst.outcome(false, code || err.message);
    this.releaseSlot(inst);
    if (!this.done && !this.retried && (connectFailure || staleSocket) && this.chunks !== null) {
      // Another instance of the revision; the same one only when its socket, not it, failed.
      const next = this.group.pick(inst) ?? (staleSocket && inst.usable ? inst : undefined);
      if (next) {
        // The upstream probably closed its idle connections together: do not try another one.
        if (staleSocket) inst.closeIdleSockets();
        this.retried = true;
        this.failure = undefined;
        this.upstream = undefined;
        this.admit(next);
        return;
      }
    }
    if (failure === 'connect-timeout') this.reply(504, 'upstream-connect-timeout', `graylane: connecting to ${inst.address} timed out`);
    else if (timedOut) this.reply(504, failure === 'header-timeout' ? 'upstream-response-timeout' : 'upstream-idle-timeout', `graylane: ${inst.address}: ${err.message}`);
    else if (connectFailure) this.reply(502, 'upstream-connect-error', `graylane: cannot connect to ${inst.address} (${code})`);
    else this.reply(502, 'upstream-reset', `graylane: ${inst.address} closed the connection (${code || err.message})`);
  }

  private readonly onHeaderTimeout = (): void => {
    if (this.done || this.responded) return;
    if (this.queuedOn) {
      this.queuedOn.dequeue(this);
      this.queuedOn = undefined;
      this.group.counters.timeout();
      this.reply(504, 'upstream-response-timeout', `graylane: no free slot within ${this.env.timeouts.responseHeaderMs} ms`);
      return;
    }
    this.failure = 'header-timeout';
    this.upstream?.destroy(new ProxyTimeout(`no response headers within ${this.env.timeouts.responseHeaderMs} ms`));
  };

  /** {@inheritDoc Abortable.abortForDrain} */
  abortForDrain(): void {
    if (this.done) return;
    const inst = this.instance;
    this.failure = 'drain';
    if (!this.responded) {
      this.upstream?.destroy();
      this.group.counters.timeout();
      this.reply(504, 'drain-deadline', `graylane: instance ${inst?.id ?? '?'} was removed before it answered`);
      return;
    }
    const ures = this.upstreamResponse;
    // Streams without a declared length (SSE, chunked) can end cleanly; the client reconnects.
    const endable = ures !== undefined && ures.headers['content-length'] === undefined;
    if (ures) ures.unpipe(this.res);
    this.upstream?.destroy();
    this.releaseSlot(inst);
    if (endable) this.res.end();
    else this.res.destroy();
  }

  private reply(status: number, reason: string, text: string): void {
    clearTimeout(this.headerTimer);
    if (this.done) return;
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    // The body may still be arriving; read it so the keep-alive connection stays usable.
    if (!this.bodyEnded && !this.bodyFlowing) this.req.resume();
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

  private readonly onClientClose = (): void => {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.headerTimer);
    clearTimeout(this.connectTimer);
    const res = this.res;
    const status = res.headersSent ? res.statusCode : 499;
    if (!res.writableFinished) {
      // The client went away (or was cut off): stop work upstream.
      if (this.failure === undefined) this.failure = 'client';
      if (this.queuedOn) {
        this.queuedOn.dequeue(this);
        this.queuedOn = undefined;
      }
      if (this.upstream && !this.upstream.destroyed && (!this.upstreamResponse || !this.upstreamResponse.complete)) this.upstream.destroy();
      this.releaseSlot(this.instance);
    } else if (this.upstreamResponse?.complete !== false) {
      this.releaseSlot(this.instance);
    }
    this.group.counters.response(status, performance.now() - this.startMs);
  };
}
