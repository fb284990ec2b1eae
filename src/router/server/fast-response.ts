/**
 * The response to a request the fast path read: what the router uses of a ServerResponse,
 * written straight to the client's socket with the framing node:http would give it. `Date` when
 * the upstream sent none; `Connection: keep-alive` with `Keep-Alive: timeout=N`, or
 * `Connection: close`; the body as declared by Content-Length, else chunked; no body at all to a
 * HEAD or for 204 and 304. Head and body go out in one write when the body is one piece. `close`
 * follows `finish`, or the connection's end, as node emits them: the exchange accounts there.
 */
import { EventEmitter } from 'node:events';
import { STATUS_CODES, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { InboundResponse } from './inbound-types.js';

/** What a response tells its connection. */
export interface FastResponseOwner {
  /** The response was handed to the socket completely; `keepAlive`: the connection carries another. */
  responseDone(keepAlive: boolean): void;
}

let dateCache = '';
let dateCacheSecond = -1;
/** The IMF-fixdate of now, built once a second (node caches it the same way). */
function httpDate(): string {
  const nowMs = Date.now();
  const second = Math.floor(nowMs / 1000);
  if (second !== dateCacheSecond) {
    dateCacheSecond = second;
    dateCache = new Date(nowMs).toUTCString();
  }
  return dateCache;
}

const CRLF = '\r\n';
/** Responses up to this size (head and body) are copied into one buffer and written at once. */
const SINGLE_WRITE_MAX_BYTES = 16 * 1024;

/** See the file comment. */
export class FastResponse extends EventEmitter implements InboundResponse {
  statusCode = 200;
  shouldKeepAlive: boolean;
  headersSent = false;
  writableFinished = false;
  readonly #socket: Socket;
  readonly #owner: FastResponseOwner;
  readonly #head: boolean;
  readonly #keepAliveTimeoutS: number;
  /** Bytes of the head, until they go out with the first piece of the body. */
  #pendingHead: string | undefined;
  #chunked = false;
  #bodyAllowed = true;
  #ended = false;
  #closed = false;

  constructor(options: { socket: Socket; owner: FastResponseOwner; method: string; keepAlive: boolean; keepAliveTimeoutMs: number }) {
    super();
    this.#socket = options.socket;
    this.#owner = options.owner;
    this.#head = options.method === 'HEAD';
    this.shouldKeepAlive = options.keepAlive;
    this.#keepAliveTimeoutS = Math.floor(options.keepAliveTimeoutMs / 1000);
  }

  get writableNeedDrain(): boolean {
    return this.#socket.writableNeedDrain;
  }

  writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], maybeHeaders?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    if (this.headersSent) throw new Error('the response head was already written');
    const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : (STATUS_CODES[status] ?? 'unknown');
    const headers = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
    this.statusCode = status;
    this.headersSent = true;
    this.#bodyAllowed = !this.#head && status !== 204 && status !== 304 && !(status >= 100 && status < 200);
    let out = `HTTP/1.1 ${status} ${reason}${CRLF}`;
    let length = false;
    let date = false;
    let connection = false;
    const add = (name: string, value: string | number | readonly string[]) => {
      const lower = name.toLowerCase();
      if (lower === 'content-length') length = true;
      else if (lower === 'date') date = true;
      else if (lower === 'connection') {
        connection = true;
        if (/\bclose\b/i.test(String(value))) this.shouldKeepAlive = false;
      }
      if (Array.isArray(value)) for (const v of value as readonly string[]) out += `${name}: ${v}${CRLF}`;
      else out += `${name}: ${String(value)}${CRLF}`;
    };
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) add(String(headers[i]), headers[i + 1] as string);
    } else if (headers) {
      for (const name of Object.keys(headers)) {
        const value = headers[name];
        if (value !== undefined) add(name, value);
      }
    }
    if (!date) out += `Date: ${httpDate()}${CRLF}`;
    if (!connection) {
      out += this.shouldKeepAlive
        ? `Connection: keep-alive${CRLF}${this.#keepAliveTimeoutS > 0 ? `Keep-Alive: timeout=${this.#keepAliveTimeoutS}${CRLF}` : ''}`
        : `Connection: close${CRLF}`;
    }
    if (this.#bodyAllowed && !length) {
      this.#chunked = true;
      out += `Transfer-Encoding: chunked${CRLF}`;
    }
    this.#pendingHead = out + CRLF;
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (this.#ended) throw new Error('write after end');
    if (!this.headersSent) this.writeHead(this.statusCode);
    return this.#send(chunk, false);
  }

  end(chunk?: Buffer | string): this {
    if (this.#ended) return this;
    if (!this.headersSent) {
      const length = chunk === undefined ? 0 : Buffer.byteLength(chunk);
      this.writeHead(this.statusCode, { 'content-length': length });
    }
    this.#ended = true;
    this.#send(chunk, true);
    return this;
  }

  destroy(error?: Error): this {
    this.#socket.destroy(error);
    return this;
  }

  /** The connection ended before or after this response: `close` once, as node emits it. */
  connectionClosed(): void {
    this.#emitClose();
  }

  #send(chunk: Buffer | string | undefined, last: boolean): boolean {
    const socket = this.#socket;
    const pieces: (Buffer | string)[] = [];
    if (this.#pendingHead !== undefined) pieces.push(this.#pendingHead);
    this.#pendingHead = undefined;
    // Body text is UTF-8 (node's default); only the head is written as latin1.
    const data = chunk === undefined || !this.#bodyAllowed || chunk.length === 0 ? undefined : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#chunked) {
      if (data !== undefined) pieces.push(`${Buffer.byteLength(data).toString(16)}${CRLF}`, data, last ? `${CRLF}0${CRLF}${CRLF}` : CRLF);
      else if (last) pieces.push(`0${CRLF}${CRLF}`);
    } else if (data !== undefined) {
      pieces.push(data);
    }
    if (socket.destroyed) return false;
    if (pieces.length === 0) {
      if (last) queueMicrotask(() => this.#finished());
      return true;
    }
    const done = last ? () => this.#finished() : undefined;
    if (pieces.length > 1) {
      // A small response goes out as one buffer in one write: two writes under cork cost node's
      // stream a buffered-request list and a writev wrap, more than copying a few kB.
      let total = 0;
      for (const piece of pieces) total += piece.length;
      if (total <= SINGLE_WRITE_MAX_BYTES) {
        const out = Buffer.allocUnsafe(total);
        let at = 0;
        for (const piece of pieces) at += typeof piece === 'string' ? out.write(piece, at, 'latin1') : piece.copy(out, at);
        return socket.write(out, done);
      }
    }
    let ok = true;
    if (pieces.length > 1) socket.cork();
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      const after = i === pieces.length - 1 ? done : undefined;
      ok = typeof piece === 'string' ? socket.write(piece, 'latin1', after) : socket.write(piece, after);
    }
    if (pieces.length > 1) socket.uncork();
    return ok;
  }

  #finished(): void {
    if (this.writableFinished) return;
    this.writableFinished = true;
    this.emit('finish');
    this.#emitClose();
    this.#owner.responseDone(this.shouldKeepAlive);
  }

  #emitClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }
}
