/** The daemon stores what the router did on its own (an ejection) as an event of the service. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startUpstream, until, type Upstream } from '../../../test/fixtures/router/support.js';
import type { EventView } from '../control-plane.js';
import { startLocalDaemon, type LocalDaemon } from './daemon.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, status: number): Promise<Upstream> {
  const u = await startUpstream(name, (req, res) => {
    req.resume();
    res.writeHead(status).end(name);
  });
  cleanups.push(() => u.close());
  return u;
}

async function daemonFor(targets: string[]): Promise<LocalDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-router-events-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const appFile = join(dir, 'graylane.yaml');
  writeFileSync(appFile, `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: events}
spec:
  services:
  - name: api
    targets: ${JSON.stringify(targets)}
`);
  const stateDir = join(dir, '.graylane');
  mkdirSync(stateDir, { mode: 0o700 });
  const daemon = await startLocalDaemon({ appFile, stateDir, adminToken: 'a-token-of-16-chars-or-more', listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500 });
  cleanups.push(() => daemon.stop({ stopInstances: true }));
  return daemon;
}

describe('router events in the event log', () => {
  it('an instance ejected for failing is a warning event of its service, stored and streamed', async () => {
    const good = await upstream('good', 200);
    const bad = await upstream('bad', 500);
    const d = await daemonFor([good.address, bad.address]);
    const streamed: EventView[] = [];
    cleanups.push(d.controller.subscribe(({ event }) => void (event && streamed.push(event))));
    // Both targets routed and ready before the load.
    await until(() => d.controller.get('api').revisions.some((r) => r.ready === 2), 10_000, 'both targets ready');
    const stored = () => d.controller.events({ service: 'api' }).filter((e) => e.reason === 'InstanceEjected');
    // The router's workers each count failures; the first to reach 5 ejects it for all of them.
    for (let i = 0; i < 60 && stored().length === 0; i++) await send(`${d.routerUrl}/`);
    await until(() => stored().length === 1, 5000, 'the ejection stored');
    expect(stored()[0]).toMatchObject({ service: 'api', level: 'warning' });
    expect(stored()[0]!.message).toMatch(new RegExp(`\\(${bad.address}\\) of revision \\S+ taken out of balancing for 5 s: 5 consecutive failures \\(last: status 500\\)`));
    expect(streamed.filter((e) => e.reason === 'InstanceEjected').map((e) => e.id)).toEqual([stored()[0]!.id]);
    // Out of balancing: the good target serves what follows.
    for (let i = 0; i < 10; i++) expect((await send(`${d.routerUrl}/`)).body).toBe('good');
  });
});
