/**
 * Periodic reports between the router's processes are sent only when they say something new: an
 * idle data plane otherwise costs its workers, its supervisor and the daemon CPU every interval
 * (measured idle: 9.7% of a core across the four processes, against 2.9% for the router inside
 * the daemon). A report goes out anyway once `heartbeatMs` passed since the last one.
 */
export class ChangeGate {
  private last: string | undefined;
  private sentAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly heartbeatMs: number) {}

  /** Whether to send now: `fingerprint` differs from the last one sent, or a heartbeat is due. Remembers it when so. */
  pass(fingerprint: string, nowMs: number): boolean {
    if (fingerprint === this.last && nowMs - this.sentAtMs < this.heartbeatMs) return false;
    this.last = fingerprint;
    this.sentAtMs = nowMs;
    return true;
  }
}
