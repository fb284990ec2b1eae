/**
 * Connections a listener accepted that have not yet carried a request. A router that stops closes
 * its listener and then every connection with no request in flight; a connection accepted a moment
 * before, whose request is still in the kernel's buffer (the event loop had not read it yet), is
 * one of those, and its client, which connected successfully, would see a reset. The router gives
 * such connections a short grace to deliver their request, which it then serves.
 */
import type { Server, Socket } from 'node:net';

/** How long a stopping router waits for a fresh connection's first request, at most (and never past its drain deadline). */
export const FRESH_CONNECTION_GRACE_MS = 1000;

/** See the file comment. */
export class FreshConnections {
  readonly #fresh = new Set<Socket>();

  /** Follows the connections `server` accepts from now on. */
  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.#fresh.add(socket);
      socket.once('close', () => this.#fresh.delete(socket));
    });
  }

  /** `socket` has carried a request: it is no longer fresh. */
  served(socket: Socket): void {
    this.#fresh.delete(socket);
  }

  /** How many accepted connections have carried no request yet. */
  get size(): number {
    return this.#fresh.size;
  }
}
