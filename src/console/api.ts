/**
 * The console's one API client (the CLI's, shared), its session's CSRF token, and what a failed
 * request means to a person: its sentence, or "sign in again" when the session ended.
 */
import { ApiClient, ApiError, ContractViolationError, DaemonUnreachableError } from '../api/client.js';

let csrfToken: string | undefined;

/** Keeps the session's CSRF token for every change the page sends (undefined when signed out). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** The client every page uses: same origin, the session cookie, the CSRF header on changes. */
export const client = new ApiClient('', undefined, undefined, { csrfToken: () => csrfToken });

/** The sentence the sign-in page shows after a 401 anywhere else. */
export const SESSION_ENDED = 'Your session ended; sign in again.';

/** Whether an error means the session is gone (a 401). */
export function isSessionEnded(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}

/** The sentence to show for a failed request: the API's own message when it sent one. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.details.length > 0 ? `${err.message} ${err.details.join('; ')}` : err.message;
  if (err instanceof DaemonUnreachableError) return 'The graylane server cannot be reached; is it still running?';
  if (err instanceof ContractViolationError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
