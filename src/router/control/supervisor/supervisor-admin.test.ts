/**
 * The admin listener of a supervised router over real processes: `/metrics` counters never drop
 * while a worker is killed and replaced, the token is required, `PUT /routes` goes to every worker
 * through the control, and a listener that cannot bind is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, serviceTable, sleep, startUpstream, type Upstream } from '../../../../test/fixtures/router/support.js';
import { startSupervisorAdmin, type SupervisorAdmin } from './supervisor-admin.js';
import { startSupervisedRouter, type SupervisedRouter } from './supervisor-control.js';

const token = 'supervisor-admin-token-0123456789';
const auth = { authorization: `Bearer ${token}` };
const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-admin-'));
let s: SupervisedRouter;
let admin: SupervisorAdmin;
let a: Upstream;
let b: Upstream;

beforeAll(async () => {
  a = await startUpstream('a');
  b = await startUpstream('b');
  s = await startSupervisedRouter({ stateDir: dir, workers: 2, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 1000 } });
  await s.applyTable(serviceTable({ stable: [a] }));
  admin = await startSupervisorAdmin({ control: s, admin: { host: '127.0.0.1', port: 0, token } });
}, 90_000);

afterAll(async () => {
  await admin.close();
  await s.stop({ drainTimeoutMs: 500 }).catch(() => undefined);
  try {
    process.kill(-s.pid, 'SIGKILL');
  } catch {
    // Stopped.
  }
  await a.close();
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `graylane_router_requests_total` of web/`revision` on the listener (0 before it is counted). */
async function requests(revision: string): Promise<number> {
  const res = await fetch(`${admin.url}/metrics`, { headers: auth });
  expect(res.status).toBe(200);
  const m = new RegExp(`^graylane_router_requests_total\\{service="web",revision="${revision}"\\} (\\d+)$`, 'm').exec(await res.text());
  return m ? Number(m[1]) : 0;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('admin listener of a supervised router', () => {
  it('/metrics needs the token; with it, every request is counted whichever worker served it', async () => {
    const denied = await fetch(`${admin.url}/metrics`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    // New connections, accepted by both workers.
    for (let i = 0; i < 30; i++) expect((await send(`${s.url}/`)).body).toBe('a');
    await until(async () => (await requests('v1')) === 30, 10_000, '30 requests on /metrics');
    const workers = await s.workers();
    expect(workers.filter((w) => w.requests > 0)).toHaveLength(2);
  });

  it('a worker killed and replaced: the counter never drops on any scrape, and goes on from where it was', async () => {
    const before = await requests('v1');
    expect(before).toBeGreaterThan(0);
    const victim = (await s.workers())[0]!.pid;
    process.kill(victim, 'SIGKILL');
    let last = before;
    let replaced = false;
    const end = Date.now() + 60_000;
    while (!replaced) {
      if (Date.now() > end) throw new Error('no replacement worker within 60 s');
      const now = await requests('v1');
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
      const ws = await s.workers();
      replaced = ws.length === 2 && ws.every((w) => w.pid !== victim);
      await sleep(50);
    }
    expect(await requests('v1')).toBe(before);
    for (let i = 0; i < 10; i++) await send(`${s.url}/`);
    await until(async () => (await requests('v1')) === before + 10, 10_000, `${before + 10} requests after the replacement`);
  }, 90_000);

  it('PUT /routes puts a table in force on every worker through the control; an invalid one is refused with 400', async () => {
    const { version } = s.currentTable();
    const ok = await fetch(`${admin.url}/routes`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(serviceTable({ stable: [b] })) });
    expect(ok.status).toBe(200);
    expect(s.currentTable().version).toBe(version + 1);
    expect((await fetch(`${admin.url}/routes`, { headers: auth }).then((r) => r.json()) as { services: { revisions: { v1: { instances: { id: string }[] } } }[] }).services[0]!.revisions.v1.instances[0]!.id).toBe('b');
    const fresh = await Promise.all(Array.from({ length: 10 }, () => send(`${s.url}/`)));
    expect(fresh.map((r) => r.body)).toEqual(Array(10).fill('b'));
    const bad = await fetch(`${admin.url}/routes`, { method: 'PUT', headers: auth, body: JSON.stringify({ services: [{ name: 'web' }] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('INVALID_ROUTE_TABLE');
    expect(s.currentTable().version).toBe(version + 1);
  });

  it('an address already taken: the listener is refused with EADDRINUSE', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = (taken.address() as AddressInfo).port;
      await expect(startSupervisorAdmin({ control: s, admin: { host: '127.0.0.1', port, token } })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
