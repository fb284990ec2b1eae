import { afterEach, describe, expect, it } from 'vitest';
import { send, serviceTable, startRouter, startUpstream, type Upstream } from '../../test/fixtures/router/support.js';

const token = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${token}` };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(metricsWithoutToken = false): Promise<{ url: string; admin: string; a: Upstream; b: Upstream }> {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  cleanups.push(() => a.close(), () => b.close());
  const r = await startRouter({ routes: serviceTable({ stable: [a] }), admin: { host: '127.0.0.1', port: 0, token, metricsWithoutToken } });
  cleanups.push(r.close);
  return { url: r.url, admin: r.adminUrl!, a, b };
}

describe('admin API', () => {
  it('requires the bearer token everywhere but /healthz', async () => {
    const { admin } = await setup();
    for (const path of ['/routes', '/stats?service=web&revision=v1', '/metrics']) {
      const reply = await send(`${admin}${path}`);
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect((await send(`${admin}${path}`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    }
    expect((await send(`${admin}/healthz`)).status).toBe(200);
    expect((await send(`${admin}/nope`, { headers: auth })).status).toBe(404);
  });

  it('tells a caller without the token that one is needed, how to send it and where it is', async () => {
    const { admin } = await setup();
    const error = String(JSON.parse((await send(`${admin}/metrics`)).body).error);
    expect(error).toContain('a token is needed');
    expect(error).toContain('authorization: Bearer');
    expect(error).toContain('.graylane/token');
  });

  it('reads and replaces the route table', async () => {
    const { url, admin, b } = await setup();
    const got = JSON.parse((await send(`${admin}/routes`, { headers: auth })).body);
    expect(got.services[0].stable).toBe('v1');
    const put = await send(`${admin}/routes`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(serviceTable({ stable: [b] })) });
    expect(put.status).toBe(200);
    expect((await send(`${url}/`)).body).toBe('b');
  });

  it('rejects a bad table with 400 and field-level issues, changing nothing', async () => {
    const { url, admin } = await setup();
    const bad = serviceTable({ stable: [] });
    bad.services[0]!.canaryWeight = 150;
    const put = await send(`${admin}/routes`, { method: 'PUT', headers: auth, body: JSON.stringify(bad) });
    expect(put.status).toBe(400);
    const body = JSON.parse(put.body);
    expect(body.code).toBe('INVALID_ROUTE_TABLE');
    expect(body.issues).toContainEqual({ path: ['services', 0, 'canaryWeight'], message: 'must be <= 100' });
    expect((await send(`${admin}/routes`, { method: 'PUT', headers: auth, body: '{not json' })).status).toBe(400);
    expect((await send(`${admin}/routes`, { method: 'DELETE', headers: auth })).status).toBe(405);
    expect((await send(`${url}/`)).body).toBe('a');
  });

  it('serves sliding-window stats', async () => {
    const { url, admin } = await setup();
    for (let i = 0; i < 3; i++) await send(`${url}/`);
    const read = async (): Promise<{ responses: Record<string, number> }> => JSON.parse((await send(`${admin}/stats?service=web&revision=v1&window=30s`, { headers: auth })).body) as { responses: Record<string, number> };
    let stats = await read();
    for (let i = 0; i < 100 && (stats.responses['2xx'] ?? 0) < 3; i++) stats = await read();
    expect(stats).toMatchObject({ requests: 3, responses: { '2xx': 3 }, windowMs: 30_000 });
    expect((await send(`${admin}/stats?service=web`, { headers: auth })).status).toBe(400);
    const badWindow = await send(`${admin}/stats?service=web&revision=v1&window=soon`, { headers: auth });
    expect(badWindow.status).toBe(400);
    expect(badWindow.body).toContain('not a duration');
  });

  it('exposes Prometheus metrics, openly only when configured so', async () => {
    const { url, admin } = await setup(true);
    await send(`${url}/`);
    // The response is counted when the router's side of it closes, a moment after the client has it.
    let m = await send(`${admin}/metrics`);
    for (let i = 0; i < 100 && !m.body.includes('_count{service="web",revision="v1"} 1'); i++) m = await send(`${admin}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toContain('text/plain');
    expect(m.body).toContain('graylane_router_requests_total{service="web",revision="v1"} 1');
    expect(m.body).toContain('graylane_router_responses_total{service="web",revision="v1",class="2xx"} 1');
    expect(m.body).toContain('graylane_router_request_duration_seconds_count{service="web",revision="v1"} 1');
    expect(m.body).toMatch(/graylane_router_request_duration_seconds_bucket\{service="web",revision="v1",le="\+Inf"\} 1/);
    expect(m.body).toContain('graylane_router_instance_ejected{service="web",revision="v1",instance="a"} 0');
    expect((await send(`${admin}/routes`)).status).toBe(401);
  });
});
