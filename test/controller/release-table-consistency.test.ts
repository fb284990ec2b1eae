/**
 * A release's members change in the same route table. A router in processes of its own takes an
 * IPC round trip per table; a table that moved one member (or the pinning) without the other was
 * in force for that long. When a release ended (skew window over), a table routed web to v2 alone
 * while api still had its v1 side: a v2 page's API calls, pinned to `stable`, got v1. And tables
 * queued without bound behind a router slower than the passes that write them: the release never
 * finished here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RouterControl } from '../../src/router/control/router-control.js';
import { send } from '../fixtures/router/support.js';
import { shopReleaseYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

type Table = Parameters<RouterControl['applyTable']>[0];

/** Every table reaches the router 80 ms late, as it does through a loaded supervisor and its workers. */
function slowControl(tables: Table[]) {
  return (control: RouterControl): RouterControl => new Proxy(control, {
    get(target, prop, receiver) {
      if (prop === 'applyTable') {
        return async (table: Table) => {
          tables.push(table);
          await new Promise((r) => setTimeout(r, 80));
          return target.applyTable(table);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const shopYaml = (version: string) => shopReleaseYaml({ version, steps: '        steps:\n        - setWeight: 50\n        - pause: {}' });

const PAGE = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

/**
 * Clients that each load a page then call the API with the token the page gave them, over and
 * over until stopped; every API answer of another version than its page is a problem.
 */
function browsingClients(routerUrl: string, count: number, phase: () => string) {
  let stopped = false;
  const problems: string[] = [];
  const pages: Record<string, number> = {};
  const client = async () => {
    let token: string | undefined;
    while (!stopped) {
      const pinned = (headers: Record<string, string>) => (token ? { ...headers, 'x-graylane-release': token } : headers);
      const page = await send(`${routerUrl}/`, { headers: pinned(PAGE) });
      const given = page.headers['x-graylane-release'];
      if (typeof given === 'string') token = given;
      if (page.status !== 200) {
        problems.push(`/: ${page.status}`);
        continue;
      }
      const pageVersion = (JSON.parse(page.body) as { version: string }).version;
      pages[pageVersion] = (pages[pageVersion] ?? 0) + 1;
      const api = await send(`${routerUrl}/api/cart`, { headers: pinned(API) });
      const apiVersion = api.status === 200 ? (JSON.parse(api.body) as { version: string }).version : `status ${api.status}`;
      if (apiVersion !== pageVersion) problems.push(`/api/cart: answered by ${apiVersion} for a ${pageVersion} page ${phase()}`);
    }
  };
  const running = Promise.all(Array.from({ length: count }, client));
  return {
    problems,
    pages,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

describe('the route tables of a release', () => {
  it('keep every page and its API calls on one version from release to retirement, with each table 80 ms late', async () => {
    const tables: Table[] = [];
    h = await startHarness({ wrapControl: slowControl(tables) });
    await h.apply(shopYaml('v1'));
    await until(() => ['web', 'api'].every((s) => h!.controller.get(s).phase === 'Healthy'), 15_000, 'v1 healthy');
    const clients = browsingClients(h.routerUrl, 6, () => `(release ${h!.store.getRelease('shop')?.phase}, pinning in force ${h!.router.getRouteTable().releases?.[0]?.phase})`);
    try {
      await h.apply(shopYaml('v2'));
      await until(() => h!.controller.get('shop').phase === 'Paused', 20_000, 'the release at 50%');
      await h.controller.operate('shop', { type: 'promote', full: true });
      await until(() => h!.store.getRelease('shop')?.phase === 'promoted', 20_000, 'the release promoted');
      // The clock runs on through the skew window (a jump would end it between a page and its API call).
      const [realMs, fakeMs] = [Date.now(), h.clock.now];
      const ticking = setInterval(() => (h!.clock.now = fakeMs + Date.now() - realMs), 5);
      await until(() => h!.store.getRelease('shop')?.phase === 'idle', 20_000, 'the release complete').finally(() => clearInterval(ticking));
      await until(() => h!.router.getRouteTable().services.every((s) => Object.keys(s.revisions).length === 1), 20_000, 'v1 out of the table');
      // The ended release sends every page and pinned request to the one version left (see router.release.test.ts).
      const ended = h.router.getRouteTable().releases?.[0];
      expect(ended).toMatchObject({ phase: 'promoted', canaryWeight: 100 });
      expect(ended?.skewUntilMs).toBeUndefined();
      // Page loads under the table after the release, too.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await clients.stop();
    }
    expect(clients.pages.v1).toBeGreaterThan(0);
    expect(clients.pages.v2).toBeGreaterThan(0);
    expect(clients.problems.slice(0, 5)).toEqual([]);
  }, 90_000);
});
