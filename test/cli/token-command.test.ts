import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function run(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: { XDG_RUNTIME_DIR: cwd }, cwd });
  return { code, out, err };
}

describe('graylane token', () => {
  it('prints the daemon\'s token alone on its line, to paste into the console', async () => {
    dir = mkdtempSync(join(tmpdir(), 'graylane-token-'));
    const stateDir = join(dir, '.graylane');
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, 'token'), 'abc123-the-token\n');
    const { code, out } = await run(['token', '--state-dir', stateDir], dir);
    expect(code).toBe(0);
    expect(out).toBe('abc123-the-token\n');
  });

  it('exits 3 with a sentence when no daemon ran with that state dir', async () => {
    dir = mkdtempSync(join(tmpdir(), 'graylane-token-'));
    const stateDir = join(dir, 'empty');
    const { code, out, err } = await run(['token', '--state-dir', stateDir], dir);
    expect(code).toBe(3);
    expect(out).toBe('');
    expect(err).toContain(`no graylane daemon ran with state dir ${stateDir}: start one with \`graylane up\``);
  });
});
