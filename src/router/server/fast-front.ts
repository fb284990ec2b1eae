/**
 * The fast path in front of the router's plain HTTP listener: it takes each accepted connection
 * first, reads request heads itself (request-head-parser.ts) and serves the common request (a GET
 * or HEAD with nothing that changes the connection, fast-path-request.ts) through the router's
 * own handler with a FastRequest and a FastResponse. The first request it does not serve hands
 * the connection, with every byte read and not yet served, to node:http's connection handler for
 * good; node then answers it as it always did (malformed requests included).
 *
 * One request at a time per connection: reading pauses while a response is in flight, so a
 * pipelining client's next request waits in the socket, and responses keep their order. An idle
 * connection is closed after `idleMs`; one that sends part of a head and then nothing gets 408
 * after `headerMs`, as node:http's headers timeout does.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { FastRequest } from './fast-request.js';
import { FastResponse, type FastResponseOwner } from './fast-response.js';
import { fastPathRefusal } from './fast-path-request.js';
import type { InboundRequest, InboundResponse } from './inbound-types.js';
import { parseRequestHead } from './request-head-parser.js';

/** Options of {@link FastFront}. */
export interface FastFrontOptions {
  /** The node:http server whose connections the front takes first. */
  server: Server;
  /** The router's handler of a plain request. */
  onRequest: (req: InboundRequest, res: InboundResponse) => void;
  /** An idle kept-alive connection is closed after this long. */
  idleMs: number;
  /** A head must arrive whole within this long of its first byte (or of the connection). */
  headerMs: number;
  /** A request the front answered 408 to (a head too slow), for the router's refusal count. */
  onHeaderTimeout?: () => void;
}

type ConnectionListener = (socket: Socket) => void;

/** See the file comment. */
export class FastFront {
  readonly #connections = new Set<FastConnection>();
  readonly #nodeConnection: ConnectionListener;
  readonly #options: FastFrontOptions;

  /** Takes over `server`'s connections: call before it listens. */
  constructor(options: FastFrontOptions) {
    this.#options = options;
    const server = options.server;
    // node:http's own handler is the listener its constructor added; later ones (the router's) stay.
    const nodeConnection = server.listeners('connection')[0] as ConnectionListener | undefined;
    if (nodeConnection === undefined) throw new Error('the server has no connection handler of node:http to hand connections to');
    server.off('connection', nodeConnection);
    this.#nodeConnection = nodeConnection.bind(server);
    server.prependListener('connection', (socket: Socket) => this.#accept(socket));
  }

  /** Connections the front still holds (not handed to node:http). */
  get size(): number {
    return this.#connections.size;
  }

  /** Closes every held connection with no request in flight (as node's closeIdleConnections). */
  closeIdle(): void {
    for (const c of [...this.#connections]) c.closeIfIdle();
  }

  /** Closes every held connection now. */
  closeAll(): void {
    for (const c of [...this.#connections]) c.socket.destroy();
  }

  #accept(socket: Socket): void {
    const connection = new FastConnection(socket, this.#options, (c, rest) => {
      this.#connections.delete(c);
      if (rest !== undefined) socket.unshift(rest);
      this.#nodeConnection(socket);
    });
    this.#connections.add(connection);
    socket.once('close', () => this.#connections.delete(connection));
  }
}

const TIMEOUT_RESPONSE = 'HTTP/1.1 408 Request Timeout\r\nx-graylane-error: header-timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

class FastConnection implements FastResponseOwner {
  #buffered: Buffer | undefined;
  #response: FastResponse | undefined;
  #handedOff = false;
  #timer: NodeJS.Timeout | undefined;
  #timerKind: 'idle' | 'header' | undefined;
  /** Requests served on this connection: one never used is not idle yet (see closeIfIdle). */
  #served = 0;

  constructor(
    readonly socket: Socket,
    private readonly options: FastFrontOptions,
    private readonly handOff: (c: FastConnection, rest: Buffer | undefined) => void,
  ) {
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.once('close', this.#onClose);
    socket.once('end', this.#onEnd);
    socket.on('error', noop);
    this.#arm('header');
  }

  /**
   * Closes the connection if it carried a request and carries none now. One that has carried
   * none is left, as node:http leaves it: its request may be in the kernel's buffer still (the
   * router's FreshConnections gives it a grace, then closes everything).
   */
  closeIfIdle(): void {
    if (this.#served > 0 && this.#response === undefined && this.#buffered === undefined) this.socket.destroy();
  }

  responseDone(keepAlive: boolean): void {
    this.#response = undefined;
    if (!keepAlive || this.socket.destroyed) {
      this.#clearTimer();
      this.socket.end();
      return;
    }
    this.#arm(this.#buffered === undefined ? 'idle' : 'header');
    this.socket.resume();
    this.#next();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#buffered = this.#buffered === undefined ? chunk : Buffer.concat([this.#buffered, chunk]);
    if (this.#response !== undefined) {
      // A pipelined request: it waits until the response in flight is done.
      this.socket.pause();
      return;
    }
    if (this.#timerKind === 'idle') this.#arm('header');
    this.#next();
  };

  readonly #onDrain = (): void => {
    this.#response?.emit('drain');
  };

  /** The client ended its side: as node:http (no half-open connections), the request in flight goes with it. */
  readonly #onEnd = (): void => {
    if (this.#handedOff) return;
    if (this.#response !== undefined) this.socket.destroy();
    else this.socket.end();
  };

  readonly #onClose = (): void => {
    this.#clearTimer();
    this.#response?.connectionClosed();
  };

  #next(): void {
    const buf = this.#buffered;
    if (buf === undefined || this.#handedOff) return;
    const result = parseRequestHead(buf);
    if (result.kind === 'incomplete') return;
    if (result.kind === 'unsupported' || fastPathRefusal(result.head) !== undefined) {
      this.#giveToNode();
      return;
    }
    const head = result.head;
    this.#buffered = head.headBytes === buf.length ? undefined : buf.subarray(head.headBytes);
    this.#clearTimer();
    const req = new FastRequest(head, this.socket);
    const res = new FastResponse({
      socket: this.socket, owner: this, method: head.method, keepAlive: !closeRequested(head.rawHeaders), keepAliveTimeoutMs: this.options.idleMs,
    });
    this.#response = res;
    this.#served++;
    this.options.onRequest(req, res);
  }

  #giveToNode(): void {
    this.#handedOff = true;
    this.#clearTimer();
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('drain', this.#onDrain);
    socket.off('close', this.#onClose);
    socket.off('end', this.#onEnd);
    socket.off('error', noop);
    const rest = this.#buffered;
    this.#buffered = undefined;
    this.handOff(this, rest);
  }

  #arm(kind: 'idle' | 'header'): void {
    const ms = kind === 'idle' ? this.options.idleMs : this.options.headerMs;
    if (this.#timer !== undefined && this.#timerKind === kind) {
      this.#timer.refresh();
      return;
    }
    this.#clearTimer();
    this.#timerKind = kind;
    this.#timer = setTimeout(this.#onTimer, ms);
    this.#timer.unref();
  }

  #clearTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerKind = undefined;
  }

  readonly #onTimer = (): void => {
    const kind = this.#timerKind;
    this.#timer = undefined;
    this.#timerKind = undefined;
    if (this.#response !== undefined) return;
    if (kind === 'header' && this.#buffered !== undefined) {
      this.options.onHeaderTimeout?.();
      this.socket.end(TIMEOUT_RESPONSE);
      return;
    }
    this.socket.destroy();
  };
}

function noop(): void {}

/** Whether the request's Connection field asks to close after the response. */
function closeRequested(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(raw[i + 1]!)) return true;
  }
  return false;
}
