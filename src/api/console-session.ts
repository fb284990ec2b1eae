/**
 * The console's browser sessions: a random id kept in an HttpOnly cookie and a CSRF token the
 * page holds in memory, both from the operating system's randomness. They live in this process
 * only (a restarted daemon asks the person to sign in again), expire after a quiet while, and are
 * bounded in number so that signing in in a loop cannot fill the daemon's memory.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { SESSION_COOKIE } from './contract/console.js';

/** How long a session lasts without use: 12 h, counted again from every use. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** At most this many sessions at once; signing in beyond it ends the least recently used. */
export const MAX_SESSIONS = 64;

/** One signed-in browser. */
export interface ConsoleSession {
  /** The cookie's value; never logged, never in a URL or an error. */
  readonly id: string;
  /** What every change must carry in `x-graylane-csrf`. */
  readonly csrfToken: string;
  /** When it ends unless used again, epoch ms. */
  expiresAtMs: number;
}

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /** Clock; injectable for tests. */
  nowMs?: () => number;
  /** Idle lifetime; default {@link SESSION_IDLE_MS}. */
  idleMs?: number;
  /** Bound on live sessions; default {@link MAX_SESSIONS}. */
  maxSessions?: number;
}

const secret = () => randomBytes(32).toString('base64url');

/** Whether two secrets are equal, in time that does not depend on where they differ. */
export function sameSecret(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The live sessions, least recently used first. */
export class SessionStore {
  // A Map keeps insertion order: a used session is moved to the end, so the first is the one to evict.
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly nowMs: () => number;
  private readonly idleMs: number;
  private readonly maxSessions: number;

  constructor(options: SessionStoreOptions = {}) {
    this.nowMs = options.nowMs ?? Date.now;
    this.idleMs = options.idleMs ?? SESSION_IDLE_MS;
    this.maxSessions = options.maxSessions ?? MAX_SESSIONS;
  }

  /** The idle lifetime, ms (the cookie's Max-Age). */
  get lifetimeMs(): number {
    return this.idleMs;
  }

  /** Starts a session; the least recently used one ends when there are too many. */
  create(): ConsoleSession {
    const session: ConsoleSession = { id: secret(), csrfToken: secret(), expiresAtMs: this.nowMs() + this.idleMs };
    this.sessions.set(session.id, session);
    for (const id of this.sessions.keys()) {
      if (this.sessions.size <= this.maxSessions) break;
      this.sessions.delete(id);
    }
    return session;
  }

  /** The live session of a cookie value, its expiry moved on; undefined when unknown or expired. */
  use(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.nowMs();
    this.sessions.delete(id);
    if (session.expiresAtMs <= now) return undefined;
    session.expiresAtMs = now + this.idleMs;
    this.sessions.set(id, session);
    return session;
  }

  /** Ends a session (signing out). */
  end(id: string): void {
    this.sessions.delete(id);
  }

  /** How many sessions are live or not yet noticed as expired. */
  get size(): number {
    return this.sessions.size;
  }
}

/** The session id of a request's Cookie header, if it has one. */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The Set-Cookie value carrying a session (or ending it with `maxAgeMs` 0). No `Secure`: the
 * daemon serves plain HTTP on loopback, where a Secure cookie would never be sent back; the
 * cookie never leaves the machine. SameSite=Strict keeps other sites' pages from sending it.
 */
export function sessionCookie(id: string, maxAgeMs: number): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(maxAgeMs / 1000)}`;
}
