/**
 * A request the fast path read itself (request-head-parser.ts): what the router uses of an
 * IncomingMessage, for a GET or HEAD without a body (fast-path-request.ts), so there is no body
 * to stream: `pause` and `resume` have nothing to do.
 */
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { InboundRequest } from './inbound-types.js';
import { nodeHeaders } from './node-headers.js';
import type { RequestHead } from './request-head-parser.js';

/** See the file comment. */
export class FastRequest extends EventEmitter implements InboundRequest {
  readonly httpVersionMajor = 1;
  method: string;
  url: string;
  rawHeaders: string[];
  readonly socket: Socket;
  #headers: IncomingHttpHeaders | undefined;

  constructor(head: RequestHead, socket: Socket) {
    super();
    this.method = head.method;
    this.url = head.target;
    this.rawHeaders = head.rawHeaders;
    this.socket = socket;
  }

  /** Built on first use, as node does. */
  get headers(): IncomingHttpHeaders {
    return (this.#headers ??= nodeHeaders(this.rawHeaders));
  }

  set headers(value: IncomingHttpHeaders) {
    this.#headers = value;
  }

  resume(): this {
    return this;
  }

  pause(): this {
    return this;
  }
}
