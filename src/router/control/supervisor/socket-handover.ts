/**
 * Who listens on which socket, in the router supervisor: the first worker ready binds the
 * listening sockets and hands them over, and every later worker listens on the sockets held. The
 * binder hands them over one per IPC message (a message carries one handle), so a worker ready
 * between two of them must wait for the binder to say it listens: given the HTTP socket without
 * the HTTPS one, it would bind an HTTPS port of its own, and with port 0, a port nobody is told
 * of. Pure: the supervisor tells it what happened and does what it answers.
 */
import type { ListenerKind } from './protocol.js';

/** What a worker ready to hear does now. */
export type HandoverStart<H> =
  /** Listen: on `handles` where given, binding the others itself and handing them over. */
  | { kind: 'start'; handles: Partial<Record<ListenerKind, H>> }
  /** Wait: a binder is handing its sockets over; {@link SocketHandover.listening} or {@link SocketHandover.exited} names the waiting workers to start. */
  | { kind: 'wait' };

/** See the file comment; `W` names a worker, `H` is a handle (node's handle objects; strings in tests). */
export class SocketHandover<W, H> {
  readonly #needed: readonly ListenerKind[];
  readonly #held: Partial<Record<ListenerKind, H>> = {};
  #binder: W | undefined;
  readonly #waiting: W[] = [];

  /** `tls`: whether the router listens on HTTPS too (then both sockets are needed). */
  constructor(options: { tls: boolean }) {
    this.#needed = options.tls ? ['http', 'https'] : ['http'];
  }

  /** Whether every socket the router needs is held. */
  get complete(): boolean {
    return this.#needed.every((k) => this.#held[k] !== undefined);
  }

  /** The worker binding now, if any. */
  get binder(): W | undefined {
    return this.#binder;
  }

  /** Worker `id` is ready to hear. */
  ready(id: W): HandoverStart<H> {
    if (this.#binder !== undefined && this.#binder !== id) {
      if (!this.#waiting.includes(id)) this.#waiting.push(id);
      return { kind: 'wait' };
    }
    if (!this.complete) this.#binder = id;
    return { kind: 'start', handles: { ...this.#held } };
  }

  /** A worker handed a socket over; the first of each kind is kept (they close with the supervisor). */
  received(kind: ListenerKind, handle: H): void {
    this.#held[kind] ??= handle;
  }

  /** Worker `id` listens: its sockets came before. Returns the waiting workers to start now. */
  listening(id: W): W[] {
    if (id !== this.#binder) return [];
    this.#binder = undefined;
    return this.#waiting.splice(0);
  }

  /** Worker `id` is gone. Returns the waiting workers to start now (one of them binds what is missing). */
  exited(id: W): W[] {
    const at = this.#waiting.indexOf(id);
    if (at >= 0) this.#waiting.splice(at, 1);
    if (id !== this.#binder) return [];
    this.#binder = undefined;
    return this.#waiting.splice(0);
  }

  /** Whether worker `id` waits for the sockets. */
  isWaiting(id: W): boolean {
    return this.#waiting.includes(id);
  }
}
