/**
 * Positions for new clients of a release: a golden-ratio sequence from a random start. Each
 * position on its own is uniform in [0, {@link RELEASE_POSITIONS}), and any run of consecutive
 * clients is spread evenly over the range, so the share of clients below a weight follows the
 * weight closely even with few clients (40 uniform draws put 50 % ± 8 points on the canary at
 * weight 50; 40 of these, ± 2). Kept across table swaps, like the release's counters.
 */
import { RELEASE_POSITIONS } from './release-token.js';

const GOLDEN = (Math.sqrt(5) - 1) / 2;

/** See the module comment. */
export class ReleasePositions {
  private next: number | undefined;

  /** The position of the next new client; `random` picks where the sequence starts. */
  take(random: () => number): number {
    const x = this.next ?? random();
    this.next = (x + GOLDEN) % 1;
    return Math.min(RELEASE_POSITIONS - 1, Math.floor(x * RELEASE_POSITIONS));
  }
}
