/**
 * Slows guessing of the sign-in token: after a few wrong tokens within a minute, from anyone
 * (every caller is on loopback, so there is no address to tell them apart), further sign-ins are
 * refused with a time to wait until the oldest of those failures is a minute old. The daemon's
 * own token is long enough not to need it; the code `graylane dashboard` prints may be short.
 */

/** Wrong tokens allowed within {@link SIGN_IN_WINDOW_MS} before sign-ins wait. */
export const SIGN_IN_FAILURES_ALLOWED = 5;
/** The window failures are counted in. */
export const SIGN_IN_WINDOW_MS = 60_000;

/** Options of {@link SignInThrottle}. */
export interface SignInThrottleOptions {
  /** Clock; injectable for tests. */
  nowMs?: () => number;
  /** Failures allowed in the window; default {@link SIGN_IN_FAILURES_ALLOWED}. */
  failuresAllowed?: number;
  /** Window; default {@link SIGN_IN_WINDOW_MS}. */
  windowMs?: number;
}

/** Counts wrong tokens and says how long the next sign-in must wait. */
export class SignInThrottle {
  private failures: number[] = [];
  private readonly nowMs: () => number;
  private readonly allowed: number;
  private readonly windowMs: number;

  constructor(options: SignInThrottleOptions = {}) {
    this.nowMs = options.nowMs ?? Date.now;
    this.allowed = options.failuresAllowed ?? SIGN_IN_FAILURES_ALLOWED;
    this.windowMs = options.windowMs ?? SIGN_IN_WINDOW_MS;
  }

  /** Ms to wait before a token is even compared; 0 when one may be tried now. */
  waitMs(): number {
    const now = this.nowMs();
    this.failures = this.failures.filter((at) => at > now - this.windowMs);
    if (this.failures.length < this.allowed) return 0;
    // The oldest failure that keeps the count at the limit has to age out of the window.
    return this.failures[this.failures.length - this.allowed]! + this.windowMs - now;
  }

  /** A wrong token was given. */
  failed(): void {
    this.failures.push(this.nowMs());
    // Only the last `allowed` matter: the list stays bounded however fast the guesses come.
    if (this.failures.length > this.allowed) this.failures.splice(0, this.failures.length - this.allowed);
  }
}
