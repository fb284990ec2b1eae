import { describe, expect, it } from 'vitest';
import { ChangeGate } from './change-gate.js';

describe('reports sent only when they say something new', () => {
  it('passes the first report, a changed one, and an unchanged one once the heartbeat is due', () => {
    const gate = new ChangeGate(5000);
    const seen = [
      [0, 'a'], [200, 'a'], [400, 'b'], [600, 'b'], [5200, 'b'], [5399, 'b'], [5400, 'a'], [10_399, 'a'], [10_400, 'a'],
    ].map(([t, f]) => gate.pass(f as string, t as number));
    expect(seen).toEqual([true, false, true, false, false, false, true, false, true]);
  });
});
