/**
 * Counts messages dropped because they could not be handled, per kind, and says when one is worth
 * a log line: the first of its kind, then at 10, 100, … (reports come five times a second per
 * worker, so a line each would fill the disk). Shared by the supervisor and the daemon's client.
 */
export class DroppedMessages {
  private readonly counts = new Map<string, number>();

  /** Counts one dropped message of `kind`; the line to log, or undefined when this one is not said. */
  drop(kind: string, describe: (count: number) => string): string | undefined {
    const count = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, count);
    return Number.isInteger(Math.log10(count)) ? describe(count) : undefined;
  }
}
