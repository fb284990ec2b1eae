/**
 * One keep-alive HTTP/1.1 connection from the router to an upstream instance, one request at a
 * time, reconnecting on demand: the router's own client, in place of undici's `Client`, whose
 * machinery around each request cost more CPU than the proxying it did (see
 * `npm run bench -- router`). Its contract follows undici's dispatch handlers, so an exchange
 * knows when its request began to be written (a failure before that is always safe to retry) and
 * can pause the response while its client is slow.
 *
 * Like undici it closes an idle connection before the upstream would (the upstream's
 * `Keep-Alive: timeout` less 2 s), writes a chunked body when no length was given, refuses a
 * request target or header value the wire cannot carry, and never reuses a connection whose
 * response it could not read to the end.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { ResponseParser, type ResponseHead, type ResponseSink } from './response-parser.js';
import { UpstreamError } from './upstream-error.js';

/** A request to send. */
export interface UpstreamRequest {
  method: string;
  /** The request target: origin-form (`/path?q`) or absolute-form (`http://host/path`). */
  path: string;
  /** Flat name/value pairs; `host` is added when absent. */
  headers: string[];
  /** The body, or null for none; sent chunked unless `headers` has a `content-length`. */
  body: Readable | null;
}

/** What a request's sender is told, in this order: write, head, data…, then complete or error. */
export interface UpstreamHandler {
  /** The request is about to be written (from now on the upstream may act on it); `abort` gives it up. */
  onWrite(abort: (err: Error) => void): void;
  /**
   * The final response head; returning false pauses the body until `resume`. `contentLength` is
   * the body's declared length (validated), undefined when chunked, delimited by the close or absent.
   */
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string, contentLength: number | undefined): boolean;
  /** A piece of the body; returning false pauses the rest until `resume`. */
  onData(chunk: Buffer): boolean;
  /** The response is complete. */
  onComplete(): void;
  /** The request failed: an {@link UpstreamError}, or a socket error with its errno code. */
  onError(err: Error): void;
}

/** Options of an {@link UpstreamConnection}. */
export interface UpstreamConnectionOptions {
  host: string;
  port: number;
  /** Establishing the connection; then `UPSTREAM_CONNECT_TIMEOUT`. */
  connectMs: number;
  /** No response bytes for this long, head or body; then `UPSTREAM_HEADERS_TIMEOUT` or `UPSTREAM_BODY_TIMEOUT`. */
  idleMs: number;
  /** How long an idle connection is kept when the upstream names no `Keep-Alive: timeout`. */
  keepAliveMs: number;
  /** The longest an idle connection is kept, whatever the upstream names. */
  keepAliveMaxMs: number;
}

/** Closed this long before the upstream's own keep-alive timeout, so a request never races its close. */
export const KEEP_ALIVE_MARGIN_MS = 2000;

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOKEN = METHOD;
// What undici also refuses: a target with a space or control character, a value with CR, LF or NUL.
const BAD_TARGET = /[^\x21-\xff]/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

type TimerKind = 'connect' | 'headers' | 'body' | 'keep-alive';

/** See the module comment. */
export class UpstreamConnection implements ResponseSink {
  /** A socket is open (connected, not yet closed). */
  connected = false;
  /** Torn down on purpose: not used again. */
  discarded = false;

  private socket: net.Socket | undefined;
  private readonly parser = new ResponseParser(this);
  private handler: UpstreamHandler | undefined;
  private body: Readable | null = null;
  private bodyChunked = false;
  private bodyDone = true;
  private head: ResponseHead | undefined;
  private paused = false;
  private timer: NodeJS.Timeout | undefined;
  private timerKind: TimerKind | undefined;
  private readonly hostHeader: string;
  private readonly onTimer = (): void => this.timedOut();
  private readonly resumeFn = (): void => this.resume();
  /** The request in flight was written, wholly or in part: the connection cannot carry another after a failure. */
  private written = false;

  constructor(private readonly options: UpstreamConnectionOptions) {
    this.hostHeader = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  }

  /** Sends `request`; `handler` hears of it (of an error, never synchronously from this call). */
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.handler !== undefined) throw new Error('UpstreamConnection: one request at a time');
    this.handler = handler;
    this.head = undefined;
    this.paused = false;
    const head = this.discarded ? new UpstreamError('UPSTREAM_ABORTED', 'the connection was discarded') : this.requestHead(request);
    this.written = false;
    if (head instanceof Error) {
      queueMicrotask(() => {
        if (this.handler === handler) this.fail(head, false);
      });
      return;
    }
    this.body = request.body;
    this.bodyDone = request.body === null;
    this.parser.expect(request.method);
    const socket = this.socket;
    if (socket !== undefined && this.connected && !socket.destroyed) {
      this.clearTimer();
      this.write(head);
      return;
    }
    this.connect(head);
  }

  /** Tears the connection down; a request in flight fails with `err`. */
  discard(err?: Error): void {
    if (this.discarded) return;
    this.discarded = true;
    this.fail(err ?? new UpstreamError('UPSTREAM_ABORTED', 'the connection was discarded'), true);
    this.close();
  }

  private requestHead(request: UpstreamRequest): string | UpstreamError {
    const { method, path, headers, body } = request;
    if (!METHOD.test(method)) return new UpstreamError('UPSTREAM_INVALID_REQUEST', `invalid method ${JSON.stringify(method.slice(0, 20))}`);
    if ((path[0] !== '/' && !path.startsWith('http://') && !path.startsWith('https://')) || BAD_TARGET.test(path)) {
      return new UpstreamError('UPSTREAM_INVALID_REQUEST', `invalid request target ${JSON.stringify(path.slice(0, 60))}`);
    }
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let host = false;
    let length = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (!TOKEN.test(name) || BAD_VALUE.test(value)) return new UpstreamError('UPSTREAM_INVALID_REQUEST', `invalid header ${JSON.stringify(name.slice(0, 40))}`);
      if (name.length === 4 && name.toLowerCase() === 'host') host = true;
      else if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!host) head += `host: ${this.hostHeader}\r\n`;
    this.bodyChunked = body !== null && !length;
    if (this.bodyChunked) head += 'transfer-encoding: chunked\r\n';
    return `${head}connection: keep-alive\r\n\r\n`;
  }

  private connect(head: string): void {
    this.close();
    const socket = net.connect({ host: this.options.host, port: this.options.port, noDelay: true });
    this.socket = socket;
    this.arm('connect', this.options.connectMs);
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      this.connected = true;
      this.clearTimer();
      if (this.handler !== undefined) this.write(head);
    });
    socket.on('data', (data: Buffer) => {
      if (this.socket === socket) this.onSocketData(data);
    });
    socket.on('end', () => {
      if (this.socket !== socket) return;
      this.connected = false;
      try {
        this.parser.finish();
      } catch (err) {
        this.fail(err as Error, true);
      }
      // A handler told of the end may have sent its next request on a new socket already.
      if (this.socket === socket) this.close();
    });
    socket.on('error', (err: Error) => {
      if (this.socket === socket) this.fail(err, true);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.connected = false;
      this.socket = undefined;
      this.clearTimer();
      if (this.handler !== undefined) this.fail(new UpstreamError('UPSTREAM_CLOSED', 'the upstream closed the connection'), false);
    });
  }

  private write(head: string): void {
    const handler = this.handler;
    const socket = this.socket;
    if (handler === undefined || socket === undefined) return;
    // Bound to this request: an abort that comes after it ended must not fail the next one.
    handler.onWrite((err: Error) => {
      if (this.handler === handler) this.fail(err, true);
    });
    if (this.handler !== handler) return;
    this.written = true;
    socket.write(head, 'latin1');
    this.arm('headers', this.options.idleMs);
    const body = this.body;
    if (body !== null) this.sendBody(body, socket);
  }

  private sendBody(body: Readable, socket: net.Socket): void {
    const chunked = this.bodyChunked;
    const onDrain = (): void => {
      body.resume();
    };
    body.on('data', (chunk: Buffer) => {
      if (this.body !== body || socket.destroyed) return;
      this.refreshTimer();
      let ok: boolean;
      if (chunked) {
        // One writev for the size line, the data and its CRLF.
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        ok = socket.write('\r\n');
        socket.uncork();
      } else ok = socket.write(chunk);
      if (!ok) {
        body.pause();
        socket.once('drain', onDrain);
      }
    });
    body.on('end', () => {
      if (this.body !== body) return;
      this.bodyDone = true;
      if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
    });
    body.on('error', (err: Error) => {
      if (this.body === body) this.fail(err, true);
    });
  }

  private onSocketData(data: Buffer): void {
    try {
      this.parser.execute(data);
    } catch (err) {
      this.fail(err as Error, true);
    }
  }

  /** {@inheritDoc ResponseSink.onHead} */
  onHead(head: ResponseHead): void {
    this.head = head;
    this.arm('body', this.options.idleMs);
    const handler = this.handler;
    if (handler === undefined) return;
    if (!handler.onHeaders(head.status, head.headers, this.resumeFn, head.statusText, head.contentLength)) this.pause();
  }

  /** {@inheritDoc ResponseSink.onBody} */
  onBody(chunk: Buffer): void {
    this.refreshTimer();
    const handler = this.handler;
    if (handler !== undefined && !handler.onData(chunk)) this.pause();
  }

  /** {@inheritDoc ResponseSink.onComplete} */
  onComplete(): void {
    const handler = this.handler;
    const head = this.head;
    this.handler = undefined;
    this.head = undefined;
    this.clearTimer();
    this.paused = false;
    this.socket?.resume();
    if (head === undefined || !head.keepAlive || !this.bodyDone) {
      // The rest of the body would reach the upstream as a request: never reuse such a connection.
      // A body held back for the socket that is now closed runs out into nothing, so that its
      // writer is not left waiting for a drain that will never come.
      const body = this.body;
      this.body = null;
      if (body !== null && !this.bodyDone) body.resume();
      this.close();
    } else {
      this.body = null;
      const o = this.options;
      const keepMs = head.keepAliveTimeoutMs === undefined ? o.keepAliveMs : Math.min(head.keepAliveTimeoutMs - KEEP_ALIVE_MARGIN_MS, o.keepAliveMaxMs);
      if (keepMs <= 0) this.close();
      else this.arm('keep-alive', keepMs);
    }
    handler?.onComplete();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.parser.pause();
    this.socket?.pause();
    // A client that reads slowly is not an upstream that stopped sending: the clock waits too.
    this.clearTimer();
  }

  private resume(): void {
    if (!this.paused || this.handler === undefined) return;
    this.paused = false;
    this.arm('body', this.options.idleMs);
    const socket = this.socket;
    try {
      this.parser.resume();
    } catch (err) {
      this.fail(err as Error, true);
      return;
    }
    if (this.paused || this.socket !== socket) return;
    socket?.resume();
  }

  private timedOut(): void {
    const kind = this.timerKind;
    this.timer = undefined;
    this.timerKind = undefined;
    if (kind === 'keep-alive') {
      this.close();
      return;
    }
    const err =
      kind === 'connect'
        ? new UpstreamError('UPSTREAM_CONNECT_TIMEOUT', `no connection to ${this.hostHeader} within ${this.options.connectMs} ms`)
        : kind === 'headers'
          ? new UpstreamError('UPSTREAM_HEADERS_TIMEOUT', `no response head from ${this.hostHeader} within ${this.options.idleMs} ms`)
          : new UpstreamError('UPSTREAM_BODY_TIMEOUT', `no response data from ${this.hostHeader} for ${this.options.idleMs} ms`);
    this.fail(err, true);
  }

  /**
   * Fails the request in flight, if any, with `err`. The connection ends when `closeSocket` says
   * so or the request was written: what the upstream makes of a request cut short is unknown.
   */
  private fail(err: Error, closeSocket: boolean): void {
    const handler = this.handler;
    this.handler = undefined;
    this.head = undefined;
    this.paused = false;
    const body = this.body;
    this.body = null;
    if (body !== null && !body.destroyed && !this.bodyDone) body.destroy();
    if (closeSocket || this.written) this.close();
    this.written = false;
    handler?.onError(err);
  }

  private close(): void {
    this.clearTimer();
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    this.connected = false;
    socket.destroy();
  }

  private arm(kind: TimerKind, ms: number): void {
    this.timerKind = kind;
    if (this.timer === undefined) this.timer = setTimeout(this.onTimer, ms);
    else if (this.timerMs === ms) this.timer.refresh();
    else {
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimer, ms);
    }
    this.timerMs = ms;
    // An idle connection waiting for its keep-alive to run out holds no process open.
    if (kind === 'keep-alive') this.timer.unref();
    else this.timer.ref();
  }

  private timerMs = 0;

  private refreshTimer(): void {
    if (this.timer !== undefined && (this.timerKind === 'headers' || this.timerKind === 'body')) this.timer.refresh();
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerKind = undefined;
  }
}
