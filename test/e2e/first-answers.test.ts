/**
 * The first answers of a fresh `graylane up`: from the moment the router listens until the app
 * serves, a client is told to come back (503 with Retry-After), never that its URL is wrong (404
 * "no service routes"): the router listens before the daemon has given it a table, and the
 * daemon's first table must already hold the document's services. With the router in its own
 * workers (the default) and inside the daemon.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../fixtures/router/support.js';
import { appDir, BIN, stopDaemon, writeApp } from './harness.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

interface Answer { status: number; error: string | undefined; retryAfter: string | undefined }

function ask(port: number): Promise<Answer | 'refused'> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-graylane-error'] as string | undefined, retryAfter: res.headers['retry-after'] }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : { status: 0, error: err.message, retryAfter: undefined }));
    req.end();
  });
}

describe('the first answers of graylane up', () => {
  for (const workers of ['2', '0']) {
    it(`are 503 with Retry-After until the app serves, never 404 (router workers: ${workers})`, async () => {
      const dir = appDir();
      writeApp(dir, { version: 'v1', strategy: '      canary: {}' });
      const port = await freePort();
      const proc = spawn(process.execPath, [BIN, 'up', '-f', join(dir, 'graylane.yaml'), '--drain-timeout', '5', '--listen', `127.0.0.1:${port}`, '--router-workers', workers], { cwd: dir, stdio: 'ignore' });
      stops.push(() => stopDaemon({ proc }));
      const answers: Answer[] = [];
      const end = Date.now() + 30_000;
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`graylane up exited ${proc.exitCode}`);
        if (Date.now() > end) throw new Error(`the app never answered 200: ${JSON.stringify(answers.slice(-3))}`);
        const a = await ask(port);
        if (a !== 'refused') {
          answers.push(a);
          if (a.status === 200) break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const early = answers.slice(0, -1);
      // Something to judge: the router listened well before the app's instances were ready.
      expect(early.length).toBeGreaterThan(0);
      for (const a of early) expect(a).toMatchObject({ status: 503, retryAfter: '1' });
      expect(early.map((a) => a.error)).not.toContain('no-route');
    }, 60_000);
  }
});
