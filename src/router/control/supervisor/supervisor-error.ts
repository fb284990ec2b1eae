/** Why the router supervisor could not be started, reached or stopped. */

/** Kinds of {@link SupervisorError}. */
export type SupervisorErrorCode =
  /** The supervisor did not start (its workers could not listen, or it exited first). */
  | 'START_FAILED'
  /** The supervisor's socket closed, or never opened. */
  | 'SUPERVISOR_GONE'
  /** A request got no answer in time. */
  | 'REQUEST_TIMEOUT'
  /** A supervisor of another protocol version serves this state dir. */
  | 'PROTOCOL_MISMATCH';

/** A failure talking to the router supervisor. */
export class SupervisorError extends Error {
  override readonly name = 'SupervisorError';
  constructor(readonly code: SupervisorErrorCode, message: string) {
    super(message);
  }
}
