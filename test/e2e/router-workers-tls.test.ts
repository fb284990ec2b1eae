/**
 * `graylane up --router-workers 2` with `spec.router.tls`: the workers serve HTTPS; a daemon
 * killed with -9 leaves HTTPS answered; the next `up` adopts the supervisor and prints its https URL.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasOpenssl, makeCertificate } from '../fixtures/router/certificates.js';
import { alive, appDir, startDaemon, stopDaemon, stopDaemonsAndSupervisors, view, waitFor, writeApp, type Daemon } from './harness.js';
import { freePort } from '../fixtures/free-port.js';
import { signalChild } from '../../src/lib/signal-child.js';

const daemons: Daemon[] = [];
const supervisors: number[] = [];

afterAll(() => stopDaemonsAndSupervisors(daemons, supervisors));

/** One GET over HTTPS on a fresh connection with SNI shop.example.com; the body, or the error's message. */
function httpsGet(url: string): Promise<{ ok: boolean; body: string }> {
  return new Promise((resolve) => {
    const req = https.get(url, { servername: 'shop.example.com', rejectUnauthorized: false, agent: false, headers: { host: 'shop.example.com' }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ok: res.statusCode === 200, body }));
      res.on('error', (err) => resolve({ ok: false, body: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ ok: false, body: err.message }));
  });
}

describe.skipIf(!hasOpenssl())('router workers serving HTTPS (openssl makes the certificates)', () => {
  it('serves HTTPS from the workers; after kill -9 of the daemon HTTPS keeps answering, and the next up adopts and prints the https URL', async () => {
    const dir = appDir();
    mkdirSync(join(dir, 'certs'));
    makeCertificate(join(dir, 'certs'), 'shop', 'shop-cert', ['shop.example.com']);
    const port = await freePort();
    const file = writeApp(dir, { version: 'v1', strategy: '      canary: {}' });
    writeFileSync(file, readFileSync(file, 'utf8').replace('spec:\n  services:', `spec:
  router:
    tls:
      listen: 127.0.0.1:${port}
      certificates:
      - {hosts: [shop.example.com], certFile: certs/shop.crt, keyFile: certs/shop.key}
  services:`));
    const httpsUrl = `https://127.0.0.1:${port}`;

    const first = await startDaemon(dir, ['--router-workers', '2']);
    daemons.push(first);
    const record = JSON.parse(readFileSync(join(first.stateDir, 'router.json'), 'utf8')) as { pid: number; httpsUrl?: string };
    supervisors.push(record.pid);
    expect(record.httpsUrl).toBe(httpsUrl);
    expect(first.output()).toContain(`  https    ${httpsUrl}`);
    expect(first.output()).toContain(`router supervisor pid ${record.pid}`);
    await waitFor(async () => (await view(first)).phase === 'Healthy', 30_000, 'v1 healthy');
    await waitFor(async () => (await httpsGet(`${httpsUrl}/`)).ok, 10_000, 'HTTPS answered');

    // Requests over HTTPS all along: before, during and after the daemon's death.
    const replies: { ok: boolean; body: string }[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        replies.push(await httpsGet(`${httpsUrl}/`));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    signalChild(first.proc, 'SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    await new Promise((r) => setTimeout(r, 2500));
    running = false;
    await loop;
    expect(replies.length).toBeGreaterThan(20);
    expect(replies.filter((x) => !x.ok)).toEqual([]);
    expect(alive(record.pid)).toBe(true);

    const second = await startDaemon(dir, ['--router-workers', '2']);
    daemons.push(second);
    expect(second.output()).toContain(`router supervisor pid ${record.pid}, adopted from an earlier daemon`);
    expect(second.output()).toContain(`  https    ${httpsUrl}`);
    expect((await httpsGet(`${httpsUrl}/`)).ok).toBe(true);

    await stopDaemon(second);
    await waitFor(() => !alive(record.pid), 20_000, 'the supervisor stopped with its daemon');
  }, 180_000);
});
