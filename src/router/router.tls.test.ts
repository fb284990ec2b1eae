import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasOpenssl, makeCertificate, peerCertificate, tempDir } from '../../test/fixtures/router/certificates.js';
import { send, serviceTable, startRouter, startUpstream, until, type Upstream } from '../../test/fixtures/router/support.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';
import { RouterError } from './errors.js';
import { createRouter } from './router.js';
import type { CertificateEvent, RouteTable, TlsOptions } from './types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const d = tempDir();
  cleanups.push(d.remove);
  return d.dir;
}

async function upstreams(...names: string[]): Promise<Upstream[]> {
  const list = await Promise.all(names.map((n) => startUpstream(n, (req, res, u) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': u.name, 'x-seen-proto': String(req.headers['x-forwarded-proto']), 'x-seen-host': String(req.headers.host), 'x-seen-cookie': String(req.headers.cookie) });
      res.end(u.name);
    });
  })));
  cleanups.push(async () => void (await Promise.all(list.map((u) => u.close()))));
  return list;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** GET over HTTP/1.1 on TLS with SNI `servername`. */
function httpsGet(url: string, servername: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions & { ALPNProtocols: string[] } = { servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], agent: false, headers: { host: servername, ...headers } };
    const req = https.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 request on `session`. */
function h2Get(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let head: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }));
    stream.on('error', reject);
    stream.end();
  });
}

describe.skipIf(!hasOpenssl())('TLS listener (openssl makes the certificates)', () => {
  it('picks the certificate by SNI: exact host, wildcard, and the first one for unknown or missing names', async () => {
    const d = dir();
    const shop = makeCertificate(d, 'shop', 'shop-cert', ['shop.example.com']);
    const org = makeCertificate(d, 'org', 'org-cert', ['*.example.org']);
    const [a] = await upstreams('stable');
    const r = await startRouter({ routes: serviceTable({ stable: [a!] }), tls: { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...shop }, { hosts: ['*.example.org'], ...org }] } });
    cleanups.push(r.close);
    const port = portOf(r.httpsUrl!);
    expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('shop-cert');
    expect((await peerCertificate(port, 'api.example.org')).cn).toBe('org-cert');
    expect((await peerCertificate(port, 'SHOP.example.com')).cn).toBe('shop-cert');
    // A wildcard covers one label only; unknown names and clients without SNI get the first.
    expect((await peerCertificate(port, 'a.b.example.org')).cn).toBe('shop-cert');
    expect((await peerCertificate(port, 'other.test')).cn).toBe('shop-cert');
    expect((await peerCertificate(port, undefined)).cn).toBe('shop-cert');
  });

  it('answers HTTP/2 (ALPN h2) and HTTP/1.1 clients through the upstreams, with the canary weight and X-Forwarded-Proto https', async () => {
    const d = dir();
    const shop = makeCertificate(d, 'shop', 'shop-cert', ['shop.example.com']);
    const [a, b] = await upstreams('stable', 'canary');
    const r = await startRouter({
      routes: serviceTable({ stable: [a!], canary: [b!], weight: 30 }),
      random: seededRandom(7),
      tls: { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...shop }] },
    });
    cleanups.push(r.close);
    expect((await peerCertificate(portOf(r.httpsUrl!), 'shop.example.com', ['h2', 'http/1.1'])).alpn).toBe('h2');

    const session = http2.connect(r.httpsUrl!, { servername: 'shop.example.com', rejectUnauthorized: false });
    cleanups.push(() => void session.close());
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
    expect(session.alpnProtocol).toBe('h2');
    const replies = await Promise.all(Array.from({ length: 200 }, () => h2Get(session, '/page?x=1', { ':authority': 'shop.example.com', cookie: ['a=1', 'b=2'] })));
    expect(replies.every((x) => x.status === 200)).toBe(true);
    const canary = replies.filter((x) => x.body === 'canary').length;
    expect(replies.filter((x) => x.body === 'stable').length).toBe(200 - canary);
    // 30% of 200: 60, σ ≈ 6.5.
    expect(canary).toBeGreaterThan(35);
    expect(canary).toBeLessThan(85);
    const first = replies[0]!;
    expect(first.headers['x-seen-proto']).toBe('https');
    expect(first.headers['x-seen-host']).toBe('shop.example.com');
    expect(first.headers['x-seen-cookie']).toBe('a=1; b=2');
    expect(first.headers['connection']).toBeUndefined();

    const h1 = await httpsGet(`${r.httpsUrl!}/page`, 'shop.example.com');
    expect(h1.alpn).toBe('http/1.1');
    expect(h1.status).toBe(200);
    expect(['stable', 'canary']).toContain(h1.body);
    expect(h1.headers['x-seen-proto']).toBe('https');

    // The plain listener still says http.
    const plain = await send(`${r.url}/page`);
    expect(plain.headers['x-seen-proto']).toBe('http');
    const onCanary = canary + [h1.body, plain.body].filter((x) => x === 'canary').length;
    await until(() => r.router.stats({ service: 'web', revision: 'v2' }).responses['2xx'] === onCanary, 5000, 'canary responses counted');
  });

  it('serves a certificate replaced on disk to new connections, and keeps the old one when the replacement is bad', async () => {
    const d = dir();
    const live = makeCertificate(d, 'live', 'first-cert', ['shop.example.com']);
    const next = makeCertificate(d, 'next', 'second-cert', ['shop.example.com']);
    const other = makeCertificate(d, 'other', 'other-cert', ['other.example.com']);
    const [a] = await upstreams('stable');
    const events: CertificateEvent[] = [];
    const r = await startRouter({
      routes: serviceTable({ stable: [a!] }),
      tls: { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...live }], reloadIntervalMs: 50, onCertificateEvent: (e) => events.push(e) },
    });
    cleanups.push(r.close);
    const port = portOf(r.httpsUrl!);
    expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('first-cert');

    // Renewal as certbot does it: new files renamed over the old ones.
    copyFileSync(next.certFile, join(d, 'tmp.crt'));
    copyFileSync(next.keyFile, join(d, 'tmp.key'));
    renameSync(join(d, 'tmp.key'), live.keyFile);
    renameSync(join(d, 'tmp.crt'), live.certFile);
    const deadline = Date.now() + 5000;
    let cn = '';
    while (Date.now() < deadline && (cn = (await peerCertificate(port, 'shop.example.com')).cn) !== 'second-cert') await new Promise((res) => setTimeout(res, 50));
    expect(cn).toBe('second-cert');
    expect((await peerCertificate(port, undefined)).cn).toBe('second-cert');
    expect(events.some((e) => e.type === 'certificate-reloaded' && e.reason.includes('second-cert'))).toBe(true);

    // A key from another certificate: refused, the working one stays.
    copyFileSync(other.keyFile, join(d, 'tmp.key'));
    renameSync(join(d, 'tmp.key'), live.keyFile);
    await until(() => events.some((e) => e.type === 'certificate-rejected'), 5000, 'the bad replacement reported');
    const rejected = events.find((e) => e.type === 'certificate-rejected')!;
    expect(rejected.reason).toContain(live.keyFile);
    expect(rejected.reason).toContain('does not belong to the certificate');
    expect((await peerCertificate(port, 'shop.example.com')).cn).toBe('second-cert');
    expect((await httpsGet(`${r.httpsUrl!}/`, 'shop.example.com')).body).toBe('stable');
    // Reported once, not at every check.
    await new Promise((res) => setTimeout(res, 300));
    expect(events.filter((e) => e.type === 'certificate-rejected')).toHaveLength(1);
  });

  it('redirects plain HTTP with 308 to https for a service that asks for it, and not for one that does not', async () => {
    const d = dir();
    const shop = makeCertificate(d, 'shop', 'shop-cert', ['shop.example.com']);
    const [a, b] = await upstreams('shop', 'api');
    const routes: RouteTable = {
      services: [
        { name: 'shop', pathPrefix: '/', stable: 'v1', revisions: { v1: { instances: [{ id: 'shop', address: a!.address, ready: true }] } }, canaryWeight: 0 },
        { name: 'api', pathPrefix: '/api', stable: 'v1', revisions: { v1: { instances: [{ id: 'api', address: b!.address, ready: true }] } }, canaryWeight: 0 },
      ],
    };
    const r = await startRouter({ routes, tls: { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...shop }], redirectServices: ['shop'] } });
    cleanups.push(r.close);
    const port = portOf(r.httpsUrl!);
    const redirected = await send(`${r.url}/cart/./items?id=3&q=a%20b`, { method: 'POST', body: 'x', headers: { host: 'shop.example.com:8080' } });
    expect(redirected.status).toBe(308);
    expect(redirected.headers.location).toBe(`https://shop.example.com:${port}/cart/items?id=3&q=a%20b`);
    expect(a!.hits).toBe(0);
    const plain = await send(`${r.url}/api/x`, { headers: { host: 'shop.example.com:8080' } });
    expect(plain.status).toBe(200);
    expect(plain.body).toBe('api');
    // Over HTTPS the same service is served, not redirected again.
    expect((await httpsGet(`${r.httpsUrl!}/cart`, 'shop.example.com')).body).toBe('shop');
  });
});

describe.skipIf(!hasOpenssl())('TLS certificates checked when the router is created', () => {
  const routes = { services: [] };
  const tls = (certificates: TlsOptions['certificates']): TlsOptions => ({ listen: { host: '127.0.0.1', port: 0 }, certificates });
  const failure = (f: () => unknown): RouterError => {
    try {
      f();
    } catch (err) {
      if (err instanceof RouterError) return err;
      throw err;
    }
    throw new Error('no error thrown');
  };

  it('names the field and the file that is missing', () => {
    const d = dir();
    const shop = makeCertificate(d, 'shop', 'shop-cert', ['shop.example.com']);
    const err = failure(() => createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes, tls: tls([{ hosts: ['shop.example.com'], certFile: shop.certFile, keyFile: join(d, 'nope.key') }]) }));
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.issues).toEqual([{ path: ['tls', 'certificates', 0, 'keyFile'], message: `${join(d, 'nope.key')}: no such file` }]);
    expect(err.message).toContain(`tls.certificates[0].keyFile: ${join(d, 'nope.key')}: no such file`);
  });

  it('refuses a key that is not the certificate\'s', () => {
    const d = dir();
    const shop = makeCertificate(d, 'shop', 'shop-cert', ['shop.example.com']);
    const other = makeCertificate(d, 'other', 'other-cert', ['other.example.com']);
    const err = failure(() => createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes, tls: tls([{ hosts: ['shop.example.com'], certFile: shop.certFile, keyFile: other.keyFile }]) }));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]!.path).toEqual(['tls', 'certificates', 0, 'keyFile']);
    expect(err.issues[0]!.message).toContain(`${other.keyFile}: the key does not belong to the certificate in ${shop.certFile}`);
  });

  it('refuses a host named by two entries', () => {
    const d = dir();
    const one = makeCertificate(d, 'one', 'one-cert', ['shop.example.com']);
    const two = makeCertificate(d, 'two', 'two-cert', ['shop.example.com']);
    const err = failure(() => createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes, tls: tls([{ hosts: ['shop.example.com'], ...one }, { hosts: ['api.example.com', 'Shop.example.com'], ...two }]) }));
    expect(err.issues).toEqual([{ path: ['tls', 'certificates', 1, 'hosts', 1], message: 'host shop.example.com is already served by certificates[0]: a host has one certificate' }]);
  });

  it('refuses a file that is not PEM', () => {
    const d = dir();
    const shop = makeCertificate(d, 'shop', 'shop-cert', ['shop.example.com']);
    writeFileSync(shop.certFile, 'not a certificate\n');
    const err = failure(() => createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes, tls: tls([{ hosts: ['shop.example.com'], ...shop }]) }));
    expect(err.issues[0]!.path).toEqual(['tls', 'certificates', 0, 'certFile']);
    expect(err.issues[0]!.message).toContain('not a PEM certificate');
  });
});
