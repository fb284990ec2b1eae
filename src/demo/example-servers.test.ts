import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { App, AnalysisTemplate, Rollout } from '../documents/schema.js';
import { ExampleServerStartError, examplesDir, startExampleServer, type RunningExampleServer } from './example-servers.js';
import { parseAssetUrls, parseMeta } from './simulated-users.js';
import { signalChild } from '../lib/signal-child.js';

const started: RunningExampleServer[] = [];
const start = async (...args: Parameters<typeof startExampleServer>) => {
  const s = await startExampleServer(...args);
  started.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop({ signal: 'SIGKILL' })));
});

interface Product { id: number; name: string; price: { amount: number; currency?: string } }
interface ServiceDoc { name: string; pathPrefix: string; process: { cwd: string; command: string[] } }
interface Doc { kind: string; spec: { services: ServiceDoc[] } }

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('the shop example', () => {
  it.each(['v1', 'v2'])('web %s answers health, the page with its own hashed assets, and 404 for others', async (version) => {
    const web = await start({ name: 'shop/web', env: { VERSION: version } });
    expect(web.servedBy).toBe(`web@${version}`);
    expect((await get(`${web.url}/healthz`)).status).toBe(200);

    const page = await get(`${web.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['x-served-by']).toBe(`web@${version}`);
    expect(String(page.headers['set-cookie'])).toMatch(/^shop_session=[0-9a-f]+; Path=\//);
    expect(parseMeta(page.body, 'app-version')).toBe(version);
    const assets = parseAssetUrls(page.body);
    expect(assets).toHaveLength(2);
    for (const asset of assets) {
      expect(asset).toMatch(/^\/assets\/app\.[0-9a-f]{10}\.(js|css)$/);
      const res = await get(`${web.url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toContain('immutable');
    }
    // A client-side route is the app too.
    expect((await get(`${web.url}/products/3`)).body).toBe(page.body);
    const missing = await get(`${web.url}/assets/app.0000000000.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers['cache-control']).toBe('no-store');
  });

  it('gives v1 and v2 different asset names, each a 404 on the other version', async () => {
    const [v1, v2] = await Promise.all([start({ name: 'shop/web', env: { VERSION: 'v1' } }), start({ name: 'shop/web', env: { VERSION: 'v2' } })]);
    const a1 = parseAssetUrls((await get(`${v1.url}/`)).body);
    const a2 = parseAssetUrls((await get(`${v2.url}/`)).body);
    expect(a1.filter((a) => a2.includes(a))).toEqual([]);
    for (const a of a1) expect((await get(`${v2.url}${a}`)).status).toBe(404);
    for (const a of a2) expect((await get(`${v1.url}${a}`)).status).toBe(404);
  });

  it('does not set a new session cookie for a client that has one', async () => {
    const web = await start({ name: 'shop/web', env: { VERSION: 'v1' } });
    const page = await get(`${web.url}/`, { cookie: 'shop_session=abc' });
    expect(page.headers['set-cookie']).toBeUndefined();
  });

  it('serves the v2 API with price.currency and the v1 API without', async () => {
    const [v1, v2] = await Promise.all([start({ name: 'shop/api', env: { VERSION: 'v1' } }), start({ name: 'shop/api', env: { VERSION: 'v2' } })]);
    const p1 = JSON.parse((await get(`${v1.url}/api/products`)).body) as { products: Product[] };
    const p2 = JSON.parse((await get(`${v2.url}/api/products`)).body) as { products: Product[] };
    expect(p1.products.length).toBeGreaterThan(0);
    expect(p1.products.every((p) => typeof p.price.amount === 'number' && p.price.currency === undefined)).toBe(true);
    expect(p2.products.every((p) => typeof p.price.currency === 'string')).toBe(true);

    const version = await get(`${v2.url}/api/version`);
    expect(version.headers['x-served-by']).toBe('api@v2');
    expect(JSON.parse(version.body)).toMatchObject({ service: 'api', version: 'v2' });
    expect(JSON.parse((await get(`${v2.url}/api/cart`, { cookie: 'a=b; shop_session=s1' })).body)).toEqual({ session: 's1', items: [] });
    expect((await get(`${v2.url}/api/nothing`)).status).toBe(404);
    expect((await get(`${v2.url}/healthz`)).status).toBe(200);
  });

  it('fails exactly FAIL_RATE of requests (the broken v3), but not its health check', async () => {
    const api = await start({ name: 'shop/api', env: { VERSION: 'v3', FAIL_RATE: '0.25' } });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i += 1) statuses.push((await get(`${api.url}/api/products`)).status);
    expect(statuses.filter((s) => s === 500)).toHaveLength(10);
    expect(statuses.filter((s) => s === 200)).toHaveLength(30);
    expect((await get(`${api.url}/healthz`)).status).toBe(200);
  });

  it('refuses a bad knob with a clear message and exit code 2', async () => {
    const err = await startExampleServer({ name: 'shop/api', env: { FAIL_RATE: '1.5' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExampleServerStartError);
    expect((err as Error).message).toMatch(/exited \(2\) before listening/);
    expect((err as Error).message).toContain('FAIL_RATE must be between 0 and 1, got "1.5"');
  });

  it('on SIGTERM stops accepting, finishes the in-flight request, and exits 0', async () => {
    const api = await start({ name: 'shop/api', env: { VERSION: 'v1', EXTRA_LATENCY_MS: '3000' } });
    const inFlight = get(`${api.url}/api/version`);
    // Loopback: the request is there well within a second, the answer comes after three.
    await new Promise((r) => setTimeout(r, 1000));
    signalChild(api.child, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(api.port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve('connected'); });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).version).toBe('v1');
    expect(await api.exited).toBe(0);
    expect(api.output()).toContain('draining 1 in-flight request(s)');
  });

  it('does not let an idle keep-alive connection hold up a SIGTERM', async () => {
    const api = await start({ name: 'shop/api', env: { VERSION: 'v1', SHUTDOWN_TIMEOUT_MS: '20000' } });
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    const res = await request(`${api.url}/api/version`, { dispatcher: agent });
    await res.body.text();
    // Exit 1 would mean the shutdown deadline was needed to get rid of the idle connection.
    expect(await api.stop({ killAfterMs: 25_000 })).toBe(0);
    await agent.close();
  });

  it('quickstart answers hello with its version', async () => {
    const hello = await start({ name: 'quickstart/hello', env: { VERSION: 'v7' } });
    const res = await get(`${hello.url}/`);
    expect(res.body).toBe('hello from v7\n');
    expect(res.headers['x-served-by']).toBe('hello@v7');
    expect(await hello.stop()).toBe(0);
  });
});

describe('the example documents', () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const validators = { App: ajv.compile(App), Rollout: ajv.compile(Rollout), AnalysisTemplate: ajv.compile(AnalysisTemplate) };
  const documents = (file: string): Doc[] =>
    readFileSync(join(examplesDir(), file), 'utf8').split(/^---$/m).map((d) => parse(d) as Doc | null).filter((d) => d !== null);

  it.each(['shop/graylane.yaml', 'quickstart/graylane.yaml', 'argo/canary-rollout.yaml', 'argo/blue-green-rollout.yaml'])('%s validates against the schema', (file) => {
    const checked = documents(file).filter((d) => d.kind in validators);
    expect(checked.length).toBeGreaterThan(0);
    for (const doc of checked) {
      const validate = validators[doc.kind as keyof typeof validators];
      expect(validate(doc) ? [] : validate.errors).toEqual([]);
    }
  });

  it('the shop routes / to web and /api to api, with process commands that exist', () => {
    const [app] = documents('shop/graylane.yaml');
    expect(app!.spec.services.map((s) => [s.name, s.pathPrefix])).toEqual([['web', '/'], ['api', '/api']]);
    for (const s of app!.spec.services) expect(() => readFileSync(join(examplesDir(), 'shop', s.process.cwd, s.process.command[1] ?? ""))).not.toThrow();
  });
});
