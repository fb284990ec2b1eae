import { describe, expect, it } from 'vitest';
import type { ReleaseState } from '../engine/release/releases.js';
import { buildReleaseView, type ReleaseTrafficView, type ReleaseViewInputs } from './index.js';

const ENDS_MS = 1_800_000_130_000;
const state = (s: Partial<ReleaseState>): ReleaseState => ({
  name: 'shop', generation: 'g1', phase: 'progressing', stepIndex: 0, secret: 's', message: 'm',
  members: [{ service: 'web', from: 'w1', to: 'w2' }], ...s,
});
const traffic = (skewErrors?: number): ReleaseTrafficView => ({
  weight: 30, windowMs: 30_000, pageLoads: { stable: 7, canary: 3 }, requests: { stable: 70, canary: 30 }, ...(skewErrors === undefined ? {} : { skewErrors }),
});
const view = (extra: Partial<ReleaseViewInputs>) => buildReleaseView({ name: 'shop', steps: 2, state: undefined, members: [], ...extra });

describe('the skew figures of a release view', () => {
  const rows: [string, Partial<ReleaseViewInputs>, number | undefined, number | undefined][] = [
    ['progressing, skew errors caught: counted, no window yet', { state: state({}), releaseTraffic: traffic(4), pinsOldPages: true }, 4, undefined],
    ['progressing, none caught: zero, not absent', { state: state({}), releaseTraffic: traffic(0), pinsOldPages: true }, 0, undefined],
    ['promoted with a skew window on the single-host router: its end', { state: state({ phase: 'promoted', skewUntilMs: ENDS_MS }), releaseTraffic: traffic(1), pinsOldPages: true }, 1, ENDS_MS],
    ['promoted, but a data plane that does not keep old pages (a cluster): no end named', { state: state({ phase: 'promoted', skewUntilMs: ENDS_MS }), pinsOldPages: false }, undefined, undefined],
    ['window over (idle, the deadline left in the state): no end', { state: state({ phase: 'idle', skewUntilMs: ENDS_MS }), pinsOldPages: true }, undefined, undefined],
    ['aborted: no window', { state: state({ phase: 'aborted', skewUntilMs: ENDS_MS, abortGraceUntilMs: ENDS_MS }), releaseTraffic: traffic(2), pinsOldPages: true }, 2, undefined],
    ['no state yet, no traffic counted: neither', { pinsOldPages: true }, undefined, undefined],
  ];
  it.each(rows)('%s', (_name, input, skewErrors, endsAtMs) => {
    const v = view(input);
    expect(v.releaseTraffic?.skewErrors).toBe(skewErrors);
    expect(v.skewWindowEndsAtMs).toBe(endsAtMs);
    expect('skewWindowEndsAtMs' in v).toBe(endsAtMs !== undefined);
  });
});
