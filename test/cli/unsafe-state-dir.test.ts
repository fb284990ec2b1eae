/** `graylane up` refuses a state dir another user could read or write, before it starts anything. */
import { chownSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const OTHER_UID = 65534;

describe('graylane up with an unsafe state dir', () => {
  it('exits 2 with a sentence and starts nothing', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'graylane-state-')), '.graylane');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, OTHER_UID, OTHER_UID);
    let err = '';
    const code = await main(['up', '-f', join(dir, '..', 'graylane.yaml'), '--state-dir', dir], {
      out: () => undefined, err: (s) => void (err += s), isTty: false, env: {}, cwd: tmpdir(),
    });
    expect(code).toBe(2);
    expect(err).toMatch(/belongs to user 65534.*nothing was started/);
  });
});
