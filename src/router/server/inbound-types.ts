/**
 * What the router reads of a client's request and writes to its response: the members of
 * node:http's IncomingMessage and ServerResponse it uses, and nothing more, so that a request the
 * fast path read itself (fast-request.ts, fast-response.ts) travels the same routing, exchange
 * and accounting code as one node:http parsed.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** A listener of a request's or response's events. */
type Listener = (...args: unknown[]) => void;

/** A client's request as the router routes and forwards it. */
export interface InboundRequest extends Pick<IncomingMessage, 'method' | 'url' | 'headers' | 'rawHeaders' | 'httpVersionMajor' | 'socket'> {
  /** Lets the body flow (and be discarded without a `data` listener). */
  resume(): unknown;
  /** Stops the body's flow. */
  pause(): unknown;
  /** Listens to the body's pieces. */
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  /** Listens to `end`, `close`, `error`. */
  on(event: string, listener: Listener): unknown;
  /** Stops listening to the body's pieces. */
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  /** Stops listening. */
  off(event: string, listener: Listener): unknown;
}

/** The response the router writes to a client. */
export interface InboundResponse extends Pick<ServerResponse, 'shouldKeepAlive' | 'headersSent' | 'writableFinished' | 'writableNeedDrain' | 'statusCode'> {
  /** Sends the status line and `headers` (an object, or a flat name/value array). */
  writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): unknown;
  /** A piece of the body; false when the client's socket buffer is full (wait for `drain`). */
  write(chunk: Buffer | string): boolean;
  /** The last piece of the body, if any, and the end of the response. */
  end(chunk?: Buffer | string): unknown;
  /** Listens to `close` (the response ended or the connection went) and `drain`. */
  on(event: string, listener: Listener): unknown;
  /** Closes the client's connection now. */
  destroy(error?: Error): unknown;
}
