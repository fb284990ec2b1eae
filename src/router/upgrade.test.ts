import { describe, expect, it } from 'vitest';
import { FrameBoundaryTracker } from './upgrade.js';

function frame(payloadLength: number, masked = false): Buffer {
  const header: number[] = [0x82];
  const m = masked ? 0x80 : 0;
  if (payloadLength < 126) header.push(m | payloadLength);
  else if (payloadLength < 65536) header.push(m | 126, payloadLength >> 8, payloadLength & 0xff);
  else {
    header.push(m | 127);
    for (let i = 7; i >= 0; i--) header.push(Math.floor(payloadLength / 2 ** (8 * i)) & 0xff);
  }
  if (masked) header.push(1, 2, 3, 4);
  return Buffer.concat([Buffer.from(header), Buffer.alloc(payloadLength, 1)]);
}

describe('FrameBoundaryTracker', () => {
  it.each([[0], [5], [125], [126], [300], [65_535], [65_536], [200_000]])('follows a %i-byte frame split at every 7 bytes', (n) => {
    const t = new FrameBoundaryTracker();
    const f = Buffer.concat([frame(n), frame(3, true)]);
    const boundaries: number[] = [];
    for (let i = 0; i < f.length; i += 7) {
      t.push(f.subarray(i, i + 7));
      if (t.atBoundary) boundaries.push(Math.min(i + 7, f.length));
    }
    expect(t.atBoundary).toBe(true);
    expect(boundaries.at(-1)).toBe(f.length);
    expect(boundaries.every((b) => b === f.length || b === frame(n).length)).toBe(true);
  });

  it('is not at a boundary mid-header or mid-payload', () => {
    const t = new FrameBoundaryTracker();
    const f = frame(10);
    t.push(f.subarray(0, 1));
    expect(t.atBoundary).toBe(false);
    t.push(f.subarray(1, 5));
    expect(t.atBoundary).toBe(false);
    t.push(f.subarray(5));
    expect(t.atBoundary).toBe(true);
  });
});
