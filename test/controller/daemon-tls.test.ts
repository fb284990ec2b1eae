import { copyFileSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonStartError, startLocalDaemon, type LocalDaemon } from '../../src/controller/local/daemon.js';
import { loadDocuments } from '../../src/documents/index.js';
import { hasOpenssl, makeCertificate, peerCertificate, tempDir } from '../fixtures/router/certificates.js';
import { freePort, send, startUpstream, until, type Upstream } from '../fixtures/router/support.js';

const cleanups: (() => Promise<void> | void)[] = [];
let daemon: LocalDaemon | undefined;
afterEach(async () => {
  await daemon?.stop({ stopInstances: true });
  daemon = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});

function app(upstream: Upstream, tls: string | undefined, redirect = true): string {
  return `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: shop}
spec:
${tls === undefined ? '' : `  router:\n    tls:\n${tls}\n`}  services:
  - name: web
    targets: ['${upstream.address}']
    redirectToHttps: ${String(redirect)}
`;
}

const oneCert = `      listen: 127.0.0.1:8443
      certificates:
      - {hosts: [shop.example.com], certFile: certs/shop.crt, keyFile: certs/shop.key}`;

/** A temp dir holding shop.example.com's certificate, an upstream, and an App file with `tls`; state dir `state`. */
async function shopApp(tls = oneCert): Promise<{ t: ReturnType<typeof tempDir>; upstream: Awaited<ReturnType<typeof startUpstream>>; appFile: string }> {
  const t = tempDir();
  cleanups.push(t.remove);
  mkdirSync(join(t.dir, 'certs'));
  makeCertificate(join(t.dir, 'certs'), 'shop', 'shop-cert', ['shop.example.com']);
  const upstream = await startUpstream('web');
  cleanups.push(upstream.close);
  const appFile = join(t.dir, 'app.yaml');
  writeFileSync(appFile, app(upstream, tls));
  mkdirSync(join(t.dir, 'state'));
  return { t, upstream, appFile };
}

describe.skipIf(!hasOpenssl())('spec.router.tls in an App (openssl makes the certificates)', () => {
  it('serves HTTPS with certificate files relative to the App file, and redirects plain HTTP for redirectToHttps', async () => {
    const { t, appFile } = await shopApp();
    daemon = await startLocalDaemon({ appFile, stateDir: join(t.dir, 'state'), adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, httpsListen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500, log: () => undefined });
    const httpsUrl = daemon.httpsUrl!;
    const port = Number(new URL(httpsUrl).port);
    expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('shop-cert');
    await until(() => daemon!.controller.get('web').phase === 'Healthy', 15_000, 'web healthy');
    const plain = await send(`${daemon.routerUrl}/cart?x=1`, { headers: { host: 'shop.example.com' } });
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://shop.example.com:${port}/cart?x=1`);
  });

  it('refuses to start, naming the field and the file, when a certificate file is missing; nothing is started', async () => {
    const t = tempDir();
    cleanups.push(t.remove);
    const upstream = await startUpstream('web');
    cleanups.push(upstream.close);
    const appFile = join(t.dir, 'app.yaml');
    writeFileSync(appFile, app(upstream, oneCert));
    const err = await startLocalDaemon({ appFile, stateDir: join(t.dir, 'state'), adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 } }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonStartError);
    expect((err as DaemonStartError).code).toBe('InvalidApp');
    expect((err as DaemonStartError).details).toEqual([
      `spec.router.tls.certificates[0].certFile: ${join(t.dir, 'certs/shop.crt')}: no such file`,
    ]);
  });
});

describe.skipIf(!hasOpenssl())('spec.router.tls with router workers (openssl makes the certificates)', () => {
  it('the workers serve HTTPS and redirect; a certificate change is logged once, not once per worker', async () => {
    const { t, appFile } = await shopApp();
    const next = makeCertificate(t.dir, 'next', 'renewed-cert', ['shop.example.com']);
    const logged: string[] = [];
    daemon = await startLocalDaemon({ appFile, stateDir: join(t.dir, 'state'), adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, httpsListen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500, routerWorkers: 2, log: (line) => logged.push(line) });
    expect(daemon.routerSupervisor?.adopted).toBe(false);
    const port = Number(new URL(daemon.httpsUrl!).port);
    expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('shop-cert');
    await until(() => daemon!.controller.get('web').phase === 'Healthy', 15_000, 'web healthy');
    // Healthy is said once every worker has the route (test/controller/route-pending.test.ts).
    const plain = await send(`${daemon.routerUrl}/cart?x=1`, { headers: { host: 'shop.example.com' } });
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://shop.example.com:${port}/cart?x=1`);

    copyFileSync(next.certFile, join(t.dir, 'certs', 'tmp.crt'));
    copyFileSync(next.keyFile, join(t.dir, 'certs', 'shop.key'));
    renameSync(join(t.dir, 'certs', 'tmp.crt'), join(t.dir, 'certs', 'shop.crt'));
    await until(() => logged.some((l) => l.includes('certificate-reloaded')), 15_000, 'the reload logged');
    // Both workers reload (checks every 2 s); the second one's report must not be logged.
    await new Promise((r) => setTimeout(r, 3000));
    expect(logged.filter((l) => l.includes('certificate-reloaded'))).toHaveLength(1);
    expect(logged.find((l) => l.includes('certificate-reloaded'))).toMatch(/certificate-reloaded shop\.example\.com: .*renewed-cert/);
    for (let i = 0; i < 4; i++) expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('renewed-cert');
  });

  it('a restarted daemon adopts the supervisor serving its HTTPS listener, and replaces one serving another', async () => {
    const { t, appFile } = await shopApp();
    const start = (httpsPort: number) => startLocalDaemon({ appFile, stateDir: join(t.dir, 'state'), adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, httpsListen: { host: '127.0.0.1', port: httpsPort }, drainTimeoutMs: 500, routerWorkers: 1, log: () => undefined });
    const first = await start(0);
    const firstPid = first.routerSupervisor!.pid;
    // As a crash does: the supervisor keeps serving for the next daemon.
    await first.stop({ stopInstances: false });
    daemon = await start(0);
    expect(daemon.routerSupervisor).toEqual({ pid: firstPid, adopted: true });
    expect(daemon.httpsUrl).toBe(first.httpsUrl);
    await daemon.stop({ stopInstances: false });

    const other = await freePort();
    daemon = await start(other);
    expect(daemon.routerSupervisor?.adopted).toBe(false);
    expect(daemon.routerSupervisor?.pid).not.toBe(firstPid);
    expect(daemon.httpsUrl).toBe(`https://127.0.0.1:${other}`);
    expect((await peerCertificate(other, 'shop.example.com')).cn).toBe('shop-cert');
    await expect(peerCertificate(Number(new URL(first.httpsUrl!).port), 'shop.example.com')).rejects.toThrow();
  });

  it('an HTTPS address already in use: ListenFailed naming both addresses, and no supervisor is left', async () => {
    const taken = await startUpstream('taken');
    cleanups.push(taken.close);
    const { t, appFile } = await shopApp(oneCert.replace('127.0.0.1:8443', `127.0.0.1:${taken.port}`));
    const err = await startLocalDaemon({ appFile, stateDir: join(t.dir, 'state'), adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, routerWorkers: 2, log: () => undefined }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonStartError);
    expect((err as DaemonStartError).code).toBe('ListenFailed');
    expect((err as DaemonStartError).message).toBe(`the router cannot listen on 127.0.0.1:0 and 127.0.0.1:${taken.port}: the address is already in use: stop what listens there, or change spec.listen (or spec.router.tls.listen)`);
    expect(readdirSync(join(t.dir, 'state'))).not.toContain('router.json');
  });

  it('refuses to start, naming the field and the file, when a certificate file is missing; no supervisor is started', async () => {
    const t = tempDir();
    cleanups.push(t.remove);
    const upstream = await startUpstream('web');
    cleanups.push(upstream.close);
    const appFile = join(t.dir, 'app.yaml');
    writeFileSync(appFile, app(upstream, oneCert));
    mkdirSync(join(t.dir, 'state'));
    const err = await startLocalDaemon({ appFile, stateDir: join(t.dir, 'state'), adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, routerWorkers: 2 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonStartError);
    expect((err as DaemonStartError).code).toBe('InvalidApp');
    expect((err as DaemonStartError).details).toEqual([
      `spec.router.tls.certificates[0].certFile: ${join(t.dir, 'certs/shop.crt')}: no such file`,
    ]);
    expect(readdirSync(join(t.dir, 'state'))).toEqual([]);
  });
});

describe('spec.router.tls and redirectToHttps when the App is loaded', () => {
  const load = (text: string) => loadDocuments({ text, file: 'app.yaml' }).errors.map((e) => e.message);
  const upstream = { address: '127.0.0.1:9' } as Upstream;

  it('refuses redirectToHttps without an HTTPS listener', () => {
    const text = app(upstream, undefined);
    expect(load(text)).toEqual(['app.yaml:8:22: spec.services[0].redirectToHttps: needs spec.router.tls: there is no HTTPS listener to redirect to']);
  });

  it('refuses a host named by two certificate entries', () => {
    const text = app(upstream, `${oneCert}\n      - {hosts: [api.example.com, SHOP.example.com], certFile: b.crt, keyFile: b.key}`);
    expect(load(text)).toEqual(['app.yaml:10:35: spec.router.tls.certificates[1].hosts[1]: host shop.example.com is already served by spec.router.tls.certificates[0]: a host has one certificate']);
  });
});
