import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { Client as FullClient } from 'undici';
import { describe, expect, it } from 'vitest';
import { undiciClient } from './undici-client.js';

describe('undici Client loaded alone', () => {
  it('is undici’s own Client class (fails if an undici upgrade moves or replaces the file)', () => {
    expect(undiciClient()).toBe(FullClient);
    expect(undiciClient()).toBe(undiciClient());
  });

  it('is loaded by a router that starts, not by one only built to check its options (the daemon with router workers)', () => {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const script = `
      import { createRequire } from 'node:module';
      const { createRouter } = await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('undici'));
      const router = createRouter({ listen: { host: '127.0.0.1', port: 0 } });
      const before = loaded();
      await router.start();
      const after = loaded();
      await router.stop({ drainTimeoutMs: 0 });
      console.log(JSON.stringify({ before, after }));
    `;
    const run = spawnSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout.trim())).toEqual({ before: false, after: true });
  }, 40_000);
});
