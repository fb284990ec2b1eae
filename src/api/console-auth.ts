/**
 * Who may call the API: the CLI with the bearer token, or a browser signed in to the console
 * with a session cookie. A cookie is sent by the browser on its own, so every change made with
 * one must also carry the session's CSRF token (which only the console's page holds) and, when
 * the browser says where the request comes from, come from this server's own origin. The token,
 * session ids and CSRF tokens never appear in an answer's message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CSRF_HEADER, type ApiErrorCode, type SessionView } from './contract/index.js';
import { SessionStore, sameSecret, sessionCookie, sessionIdOf, type ConsoleSession } from './console-session.js';
import { SignInThrottle } from './sign-in-throttle.js';

/** A request refused before the backend sees it: Unauthorized, Forbidden or TooManyRequests. */
export class ApiRefusal extends Error {
  constructor(
    readonly code: Extract<ApiErrorCode, 'Unauthorized' | 'Forbidden' | 'TooManyRequests'>,
    message: string,
    /** Of TooManyRequests: seconds to wait (the Retry-After header). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiRefusal';
  }
}

/** Options of {@link ConsoleAuth}. */
export interface ConsoleAuthOptions {
  /** The bearer token, which is also what a person signs in with. */
  token: string;
  /** Reported in the session. */
  place: SessionView['place'];
  /** Reported in the session. */
  version: string;
  /** Clock of sessions and the sign-in throttle; injectable for tests. */
  nowMs?: () => number;
}

const NO_CREDENTIAL = 'a valid token is required: the CLI reads it from the state directory (token file)';
const SESSION_ENDED = 'your console session ended or was never started: sign in again';
const READS = new Set(['GET', 'HEAD']);

/** Sessions, sign-in and the check of every authenticated request. */
export class ConsoleAuth {
  private readonly sessions: SessionStore;
  private readonly throttle: SignInThrottle;

  constructor(private readonly options: ConsoleAuthOptions) {
    this.sessions = new SessionStore({ nowMs: options.nowMs });
    this.throttle = new SignInThrottle({ nowMs: options.nowMs });
  }

  /** `POST /v1/session`: a new session for the right token; wrong ones are counted and, past a few, slowed. */
  signIn(given: string, res: ServerResponse): SessionView {
    const waitMs = this.throttle.waitMs();
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new ApiRefusal('TooManyRequests', `too many wrong tokens in the last minute: wait ${seconds} s before signing in again`, seconds);
    }
    if (!sameSecret(given, this.options.token)) {
      this.throttle.failed();
      throw new ApiRefusal('Unauthorized', 'that is not the right token: on a single host `graylane token` prints it; for a cluster, use the code `graylane dashboard` printed');
    }
    const session = this.sessions.create();
    res.setHeader('set-cookie', sessionCookie(session.id, this.sessions.lifetimeMs));
    return this.viewOf(session);
  }

  /** `GET /v1/session`: the session of the request's cookie (its CSRF token again, for a reloaded page). */
  current(req: IncomingMessage, res: ServerResponse): SessionView {
    const session = this.sessions.use(sessionIdOf(req.headers.cookie));
    if (!session) throw new ApiRefusal('Unauthorized', SESSION_ENDED);
    res.setHeader('set-cookie', sessionCookie(session.id, this.sessions.lifetimeMs));
    return this.viewOf(session);
  }

  /** `POST /v1/session/end`: signs out (a change: it needs the CSRF token too). */
  end(req: IncomingMessage, res: ServerResponse): void {
    const session = this.sessions.use(sessionIdOf(req.headers.cookie));
    if (!session) throw new ApiRefusal('Unauthorized', SESSION_ENDED);
    checkChange(req, session);
    this.sessions.end(session.id);
    res.setHeader('set-cookie', sessionCookie('', 0));
  }

  /**
   * Lets a request through with the bearer token, or with a session cookie (and, for a change,
   * the CSRF token and this origin); throws {@link ApiRefusal} otherwise. A bearer token wins:
   * it is no ambient credential, so it needs no CSRF token.
   */
  authenticate(req: IncomingMessage, res: ServerResponse): void {
    const header = req.headers.authorization;
    if (header !== undefined) {
      if (header.startsWith('Bearer ') && sameSecret(header.slice(7), this.options.token)) return;
      throw new ApiRefusal('Unauthorized', NO_CREDENTIAL);
    }
    const id = sessionIdOf(req.headers.cookie);
    if (id === undefined) throw new ApiRefusal('Unauthorized', NO_CREDENTIAL);
    const session = this.sessions.use(id);
    if (!session) throw new ApiRefusal('Unauthorized', SESSION_ENDED);
    checkChange(req, session);
    // The browser's cookie lasts as long as the session it now slides to.
    res.setHeader('set-cookie', sessionCookie(session.id, this.sessions.lifetimeMs));
  }

  private viewOf(session: ConsoleSession): SessionView {
    return { csrfToken: session.csrfToken, place: this.options.place, version: this.options.version, expiresAtMs: session.expiresAtMs };
  }
}

/** A change made with a cookie: the session's CSRF token, from this server's own origin. */
function checkChange(req: IncomingMessage, session: ConsoleSession): void {
  if (READS.has(req.method ?? 'GET')) return;
  const csrf = req.headers[CSRF_HEADER];
  if (typeof csrf !== 'string' || !sameSecret(csrf, session.csrfToken)) {
    throw new ApiRefusal('Forbidden', `a change from the console needs the session's CSRF token in the ${CSRF_HEADER} header: reload the page and try again`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
    throw new ApiRefusal('Forbidden', 'a change from another site\'s page is refused: use the console at this server\'s own address');
  }
}
