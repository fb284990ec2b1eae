import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStateDir, loadOrCreateToken, writeDaemonInfo } from '../api/state-dir.js';
import { main } from './main.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

describe('the CLI against a daemon that answers outside the API contract', () => {
  it('says where the answer is wrong in one sentence and exits 1', async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'api', phase: 'Healthy' }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const dir = join(mkdtempSync(join(tmpdir(), 'graylane-cli-')), 'state');
    ensureStateDir(dir);
    loadOrCreateToken(dir);
    writeDaemonInfo(dir, { apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, routerUrl: 'http://127.0.0.1:1', pid: process.pid, appFile: 'graylane.yaml', startedAtMs: 0 });
    const err: string[] = [];
    const code = await main(['status', 'api', '--state-dir', dir], { out: () => undefined, err: (s) => void err.push(s) });
    expect(code).toBe(1);
    expect(err.join('')).toContain('error: the daemon\'s answer to GET /v1/services/api does not match the API contract: /namespace is required; are the CLI and the daemon the same version?');
    expect(err.join('')).not.toContain('    at ');
  });
});
