/**
 * HTTPS served by the supervisor's workers, over real processes and certificates made by openssl:
 * SNI, h2 and HTTP/1.1 by ALPN on the shared socket, a renewed certificate served by every worker
 * and reported once, redirects, and adoption that never keeps an HTTPS listener the caller did
 * not ask for.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hasOpenssl, makeCertificate, peerCertificate, tempDir } from '../../../../test/fixtures/router/certificates.js';
import { freePort, send, serviceTable, startUpstream, until } from '../../../../test/fixtures/router/support.js';
import type { CertificateEvent, TlsOptions } from '../../types.js';
import { startSupervisedRouter, type SupervisedRouter } from './supervisor-control.js';

const started: SupervisedRouter[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  // Whatever a failed test left: no supervisor outlives the file.
  for (const s of started) {
    try {
      process.kill(-s.pid, 'SIGKILL');
    } catch {
      // Already stopped.
    }
  }
});

function dir(prefix = 'graylane-sup-tls-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function supervised(stateDir: string, tls: TlsOptions, workers = 2): Promise<SupervisedRouter> {
  const s = await startSupervisedRouter({ stateDir, workers, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 2000, tls } });
  started.push(s);
  return s;
}

/** GET over HTTP/1.1 on TLS with SNI `servername`, on a fresh connection. */
function httpsGet(url: string, servername: string): Promise<{ status: number; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions & { ALPNProtocols: string[] } = { servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], agent: false, headers: { host: servername } };
    const req = https.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 GET on a fresh session with SNI `servername`; resolves with the status, the body and the protocol. */
async function h2Get(url: string, servername: string): Promise<{ status: number; body: string; alpn: string | undefined }> {
  const session = http2.connect(url, { servername, rejectUnauthorized: false });
  try {
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': '/', ':authority': servername });
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString(), alpn: session.alpnProtocol }));
      stream.on('error', reject);
      stream.end();
    });
  } finally {
    session.close();
  }
}

describe.skipIf(!hasOpenssl())('router supervisor: HTTPS in the workers (openssl makes the certificates)', () => {
  it('every worker serves HTTPS on one port, with the certificate of each host by SNI, to h2 and HTTP/1.1 clients', async () => {
    const certs = tempDir();
    cleanups.push(certs.remove);
    const shop = makeCertificate(certs.dir, 'shop', 'shop-cert', ['shop.example.com']);
    const api = makeCertificate(certs.dir, 'api', 'api-cert', ['api.example.com']);
    const a = await startUpstream('a');
    cleanups.push(a.close);
    const s = await supervised(dir(), { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...shop }, { hosts: ['api.example.com'], ...api }] });
    cleanups.push(() => s.stop({ drainTimeoutMs: 500 }));
    expect(s.httpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(s.httpsUrl).not.toBe(s.url.replace('http:', 'https:'));
    await s.applyTable(serviceTable({ stable: [a] }));
    const port = Number(new URL(s.httpsUrl!).port);

    // Fresh connections, each taken by whichever worker accepts it first: each picks by SNI.
    for (let i = 0; i < 3; i++) {
      expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('shop-cert');
      expect((await peerCertificate(port, 'api.example.com')).cn).toBe('api-cert');
    }
    const h2 = await h2Get(s.httpsUrl!, 'shop.example.com');
    expect(h2).toEqual({ status: 200, body: 'a', alpn: 'h2' });
    const h1 = await httpsGet(`${s.httpsUrl!}/`, 'api.example.com');
    expect(h1).toEqual({ status: 200, body: 'a', alpn: 'http/1.1' });

    for (let i = 0; i < 20; i++) expect((await httpsGet(`${s.httpsUrl!}/`, 'shop.example.com')).status).toBe(200);
    await s.snapshot();
    const workers = await s.workers();
    expect(workers).toHaveLength(2);
    expect(workers.every((w) => w.requests > 0)).toBe(true);
    expect(s.totals({ service: 'web', revision: 'v1' }).requests).toBe(22);
  });

  it('a certificate replaced on disk is served by every worker, and each change reaches the caller once', async () => {
    const certs = tempDir();
    cleanups.push(certs.remove);
    const live = makeCertificate(certs.dir, 'live', 'first-cert', ['shop.example.com']);
    const next = makeCertificate(certs.dir, 'next', 'second-cert', ['shop.example.com']);
    const other = makeCertificate(certs.dir, 'other', 'other-cert', ['other.example.com']);
    const events: CertificateEvent[] = [];
    const s = await supervised(dir(), { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...live }], reloadIntervalMs: 100, onCertificateEvent: (e) => events.push(e) }, 3);
    cleanups.push(() => s.stop({ drainTimeoutMs: 500 }));
    const port = Number(new URL(s.httpsUrl!).port);
    expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('first-cert');

    copyFileSync(next.certFile, join(certs.dir, 'tmp.crt'));
    copyFileSync(next.keyFile, join(certs.dir, 'tmp.key'));
    renameSync(join(certs.dir, 'tmp.key'), live.keyFile);
    renameSync(join(certs.dir, 'tmp.crt'), live.certFile);
    // Every worker has reloaded once three reloads were seen; the caller hears one.
    await until(() => events.length > 0, 10_000, 'the reload reported');
    await new Promise((r) => setTimeout(r, 1500));
    // Thirty fresh connections, taken by whichever of the three workers accepts first: each serves the new one.
    for (let i = 0; i < 30; i++) expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('second-cert');
    expect(events.map((e) => [e.type, e.certFile])).toEqual([['certificate-reloaded', live.certFile]]);
    expect(events[0]!.reason).toContain('second-cert');

    copyFileSync(other.keyFile, join(certs.dir, 'tmp.key'));
    renameSync(join(certs.dir, 'tmp.key'), live.keyFile);
    await until(() => events.length > 1, 10_000, 'the bad replacement reported');
    await new Promise((r) => setTimeout(r, 1500));
    expect(events.map((e) => e.type)).toEqual(['certificate-reloaded', 'certificate-rejected']);
    expect(events[1]!.reason).toContain('does not belong to the certificate');
    for (let i = 0; i < 6; i++) expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('second-cert');
  });

  it('redirects plain HTTP with 308 to the workers\' HTTPS port for a service that asks for it', async () => {
    const certs = tempDir();
    cleanups.push(certs.remove);
    const shop = makeCertificate(certs.dir, 'shop', 'shop-cert', ['shop.example.com']);
    const a = await startUpstream('a');
    cleanups.push(a.close);
    const s = await supervised(dir(), { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...shop }], redirectServices: ['web'] });
    cleanups.push(() => s.stop({ drainTimeoutMs: 500 }));
    await s.applyTable(serviceTable({ stable: [a] }));
    const port = Number(new URL(s.httpsUrl!).port);
    for (let i = 0; i < 4; i++) {
      const plain = await send(`${s.url}/cart?id=3`, { headers: { host: 'shop.example.com' } });
      expect(plain.status).toBe(308);
      expect(plain.headers.location).toBe(`https://shop.example.com:${port}/cart?id=3`);
    }
    expect(a.hits).toBe(0);
    expect((await httpsGet(`${s.httpsUrl!}/cart`, 'shop.example.com')).body).toBe('a');
  });

  it('a second control adopts a supervisor with the same HTTPS listener, and replaces one with another', async () => {
    const certs = tempDir();
    cleanups.push(certs.remove);
    const shop = makeCertificate(certs.dir, 'shop', 'shop-cert', ['shop.example.com']);
    const stateDir = dir();
    const tls: TlsOptions = { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...shop }] };
    const first = await supervised(stateDir, tls);
    first.detach();
    const same = await supervised(stateDir, tls);
    expect(same.adopted).toBe(true);
    expect(same.pid).toBe(first.pid);
    expect(same.httpsUrl).toBe(first.httpsUrl);
    same.detach();

    // Asked for a fixed port it does not have: the old supervisor is stopped, a new one serves there.
    const port = await freePort();
    const moved = await supervised(stateDir, { ...tls, listen: { host: '127.0.0.1', port } });
    expect(moved.adopted).toBe(false);
    expect(moved.pid).not.toBe(first.pid);
    expect(moved.httpsUrl).toBe(`https://127.0.0.1:${port}`);
    await expect(peerCertificate(Number(new URL(first.httpsUrl!).port), 'shop.example.com')).rejects.toThrow();

    // Without HTTPS asked for, a supervisor serving it is not adopted either.
    moved.detach();
    const plain = await startSupervisedRouter({ stateDir, workers: 1, router: { listen: { host: '127.0.0.1', port: 0 } } });
    started.push(plain);
    cleanups.push(() => plain.stop({ drainTimeoutMs: 500 }));
    expect(plain.adopted).toBe(false);
    expect(plain.httpsUrl).toBeUndefined();
  });

  it('a worker replaced while a certificate file is unusable says why in the supervisor log; the others serve, and one is replaced once the file is back', async () => {
    const certs = tempDir();
    cleanups.push(certs.remove);
    const shop = makeCertificate(certs.dir, 'shop', 'shop-cert', ['shop.example.com']);
    const a = await startUpstream('a');
    cleanups.push(a.close);
    const stateDir = dir();
    const s = await supervised(stateDir, { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...shop }] });
    cleanups.push(() => s.stop({ drainTimeoutMs: 500 }));
    await s.applyTable(serviceTable({ stable: [a] }));
    renameSync(shop.certFile, join(certs.dir, 'aside.crt'));
    const [victim] = await s.workers();
    process.kill(victim!.pid, 'SIGKILL');
    const log = () => readFileSync(join(stateDir, 'router-supervisor.log'), 'utf8');
    await until(() => log().includes(`cannot serve: the TLS certificates cannot be used:\n  tls.certificates[0].certFile: ${shop.certFile}: no such file`), 15_000, 'the reason logged');
    for (let i = 0; i < 4; i++) expect((await httpsGet(`${s.httpsUrl!}/`, 'shop.example.com')).body).toBe('a');

    renameSync(join(certs.dir, 'aside.crt'), shop.certFile);
    const deadline = Date.now() + 15_000;
    let workers = await s.workers();
    while (Date.now() < deadline && !(workers.length === 2 && workers.every((w) => w.tableVersion > 0))) {
      await new Promise((r) => setTimeout(r, 200));
      workers = await s.workers();
    }
    expect(workers).toHaveLength(2);
    expect(workers.map((w) => w.pid)).not.toContain(victim!.pid);
    expect(workers.every((w) => w.tableVersion > 0)).toBe(true);
  });

  it('a certificate file that cannot be used fails the start with START_FAILED naming it, and no supervisor is recorded', async () => {
    const certs = tempDir();
    cleanups.push(certs.remove);
    const stateDir = dir();
    const err = await supervised(stateDir, { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], certFile: join(certs.dir, 'gone.crt'), keyFile: join(certs.dir, 'gone.key') }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'START_FAILED' });
    expect((err as Error).message).toContain(`tls.certificates[0].certFile: ${join(certs.dir, 'gone.crt')}: no such file`);
    expect(existsSync(join(stateDir, 'router.json'))).toBe(false);
  });
});
