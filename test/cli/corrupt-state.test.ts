import Database from 'better-sqlite3';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { appYaml, startHarness, until } from '../fixtures/controller/local-harness.js';

let state: { dir: string; stateDir: string; appFile: string };

/** A real state.db written by a real controller that ran the App until healthy. */
beforeAll(async () => {
  const h = await startHarness();
  await h.apply(appYaml({ version: 'v1' }));
  await until(() => h.controller.get('app').phase === 'Healthy', 15_000, 'healthy');
  await h.stop();
  state = { dir: h.dir, stateDir: h.stateDir, appFile: h.appFile };
});

async function up(): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(['up', '-f', state.appFile, '--state-dir', state.stateDir, '--listen', '127.0.0.1:0'], {
    out: () => undefined, err: (s) => void (err += s), isTty: false, env: {}, cwd: state.dir,
  });
  return { code, err };
}

function corrupt(status: string): void {
  const db = new Database(join(state.stateDir, 'state.db'));
  db.prepare(`UPDATE statuses SET status = ? WHERE service = 'app'`).run(status);
  expect(db.pragma('quick_check', { simple: true })).toBe('ok');
  db.close();
}

describe('a damaged status row in state.db', () => {
  it.each([
    ['does not parse', '{"phase": "Healthy", "stableRevision": ', /cannot be read \(.*JSON/],
    ['parses but is no status', '{"phase": "Sideways"}', /cannot be read \(phase "Sideways" is not one of/],
    ['misses a field', '{"phase": "Healthy", "weights": {"canary": 0, "stable": 100}}', /cannot be read \(currentStepIndex is missing/],
  ])('%s: up refuses to start with one sentence naming the file, the service and what to do', async (_n, status, why) => {
    corrupt(status);
    const { code, err } = await up();
    expect(code).not.toBe(0);
    expect(err).toContain(`state file ${join(state.stateDir, 'state.db')} is damaged: the status of service "app"`);
    expect(err).toMatch(why);
    expect(err).toContain('restore the file from a backup, or move it aside');
    expect(err).not.toMatch(/SyntaxError|\n\s+at /);
  });
});
