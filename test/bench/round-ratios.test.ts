import { describe, expect, it } from 'vitest';
import { ratiosByRound, type RoundFigure } from '../../bench/lib-round-ratios.js';

const f = (round: number, name: string, value: number | undefined): RoundFigure => ({ round, name, value });

// figures, numerator, denominator, ratios
const ROWS: [label: string, figures: RoundFigure[], numerator: string, denominator: string, expected: number[]][] = [
  ['one round', [f(0, 'a', 5), f(0, 'b', 10)], 'a', 'b', [0.5]],
  ['rounds in order, whatever order the rows came in', [f(1, 'b', 4), f(0, 'a', 1), f(1, 'a', 3), f(0, 'b', 3)], 'a', 'b', [0.333, 0.75]],
  ['a round without the denominator is left out', [f(0, 'a', 1), f(1, 'a', 2), f(1, 'b', 4)], 'a', 'b', [0.5]],
  ['a round with no figure for one row is left out', [f(0, 'a', undefined), f(0, 'b', 2), f(1, 'a', 3), f(1, 'b', 2)], 'a', 'b', [1.5]],
  ['a zero denominator is left out', [f(0, 'a', 1), f(0, 'b', 0)], 'a', 'b', []],
  ['other rows do not count', [f(0, 'a', 2), f(0, 'b', 4), f(0, 'c', 100)], 'a', 'b', [0.5]],
  ['no figures', [], 'a', 'b', []],
];

describe('ratiosByRound', () => {
  it.each(ROWS)('%s', (_label, figures, numerator, denominator, expected) => {
    expect(ratiosByRound({ figures, numerator, denominator })).toEqual(expected);
  });
});
