/**
 * Ratios of two rows of a benchmark taken round by round. On a shared host the load moves
 * between rounds: a ratio of two medians may pair a quiet round of one row with a busy round of
 * the other, while two rows measured back to back in the same round saw the same machine. Listing
 * each round's ratio shows how far the host moved the figure.
 */

/** One row's figure in one round. */
export interface RoundFigure {
  round: number;
  name: string;
  /** Undefined when the round could not measure it (no CPU figure, say). */
  value: number | undefined;
}

/**
 * `numerator`'s figure over `denominator`'s, for each round in which both have one (a finite,
 * non-zero denominator), in round order, to three decimals.
 */
export function ratiosByRound(options: { figures: RoundFigure[]; numerator: string; denominator: string }): number[] {
  const rounds = [...new Set(options.figures.map((f) => f.round))].sort((a, b) => a - b);
  const out: number[] = [];
  for (const round of rounds) {
    const a = options.figures.find((f) => f.round === round && f.name === options.numerator)?.value;
    const b = options.figures.find((f) => f.round === round && f.name === options.denominator)?.value;
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) continue;
    out.push(Math.round((a / b) * 1000) / 1000);
  }
  return out;
}
