/**
 * The status is committed before the route is put in force, and a router in processes of its own
 * takes IPC round trips to take a table. A view must not say Healthy in between: a client that
 * waited for Healthy would get the old route, or a 404 for a new service.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RouterControl } from '../../src/router/control/router-control.js';
import { ROUTE_PENDING_MESSAGE } from '../../src/controller/local/views.js';
import type { ServiceView } from '../../src/controller/view-model.js';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';

let h: Harness | undefined;
let holding = { on: false, held: [] as (() => void)[] };
afterEach(async () => {
  // A failed test may leave tables held: the harness's stop would wait for them.
  holding.on = false;
  for (const release of holding.held.splice(0)) release();
  await h?.stop();
  h = undefined;
});

type Table = Parameters<RouterControl['applyTable']>[0];
const routesApp = (table: Table) => table.services.some((s) => s.name === 'app' && Object.values(s.revisions).some((r) => r.instances.some((i) => i.ready)));

/**
 * The control, except that, while `holding.on` is set, a table that routes `app` to a ready
 * instance waits in `held` until released (tables before it pass: the passes that start the
 * instance must not be blocked behind them).
 */
function holdingControl(holding: { on: boolean; held: (() => void)[] }) {
  return (control: RouterControl): RouterControl => new Proxy(control, {
    get(target, prop, receiver) {
      if (prop === 'applyTable') {
        return async (table: Table) => {
          if (holding.on && routesApp(table)) await new Promise<void>((r) => holding.held.push(r));
          return target.applyTable(table);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('a view while its route is on its way to the router', () => {
  it('says Progressing, waiting for the router, until the table is in force; then Healthy, sent to watchers, and routed', async () => {
    holding = { on: true, held: [] };
    h = await startHarness({ wrapControl: holdingControl(holding) });
    const phases: string[] = [];
    const unsubscribe = h.controller.subscribe((change) => {
      const view = (change as { view?: ServiceView }).view;
      if (view?.name === 'app') phases.push(view.phase);
    });
    // Not awaited: the apply's pass waits for its route, which is held.
    const applied = h.apply(appYaml({ version: 'v1', replicas: 1 }));
    // The engine is done (its committed status says Healthy) while every table is held.
    await until(() => h!.store.getStatus('app')?.phase === 'Healthy', 15_000, 'the committed status Healthy');
    expect(holding.held.length).toBeGreaterThan(0);
    const waiting = h.controller.get('app');
    expect({ phase: waiting.phase, message: waiting.message, done: waiting.done }).toEqual({ phase: 'Progressing', message: ROUTE_PENDING_MESSAGE, done: false });
    // The table in force routes `app` to no ready instance yet.
    expect((await fetch(`${h.routerUrl}/`)).status).toBe(503);

    holding.on = false;
    for (const release of holding.held.splice(0)) release();
    await applied;
    const healthy = await until(() => (h!.controller.get('app').phase === 'Healthy' ? h!.controller.get('app') : undefined), 15_000, 'the view Healthy');
    expect(healthy.done).toBe(true);
    // Healthy is said only once the route is in force: the first request after it is served.
    expect((await fetch(`${h.routerUrl}/`)).status).toBe(200);
    await until(() => phases.at(-1) === 'Healthy', 5000, 'watchers told Healthy');
    unsubscribe();
  }, 40_000);

  it('stays Progressing while the router refuses the table', async () => {
    h = await startHarness({ wrapControl: (control) => (new Proxy(control, {
      get(target, prop, receiver) {
        if (prop === 'applyTable') return () => Promise.reject(new Error('refused by the test'));
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    })) });
    await h.apply(appYaml({ version: 'v1', replicas: 1 }));
    await until(() => h!.controller.events({ service: 'app' }).some((e) => e.reason === 'RoutingFailed'), 15_000, 'a RoutingFailed event');
    await until(() => h!.store.getStatus('app')?.phase === 'Healthy', 15_000, 'the committed status Healthy');
    expect(h.controller.get('app')).toMatchObject({ phase: 'Progressing', message: ROUTE_PENDING_MESSAGE, done: false });
  }, 40_000);

  it('once Healthy after a rollout, stays Healthy while the old revision drains and goes: the route in force still serves it', async () => {
    // Every table takes 40 ms to land, as IPC round trips to router workers do on a busy host.
    h = await startHarness({ wrapControl: (control) => new Proxy(control, {
      get(target, prop, receiver) {
        if (prop === 'applyTable') return async (table: Table) => { await new Promise((r) => setTimeout(r, 40)); return target.applyTable(table); };
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) });
    const strategy = '      canary: {steps: [{setWeight: 50}], scaleDownDelaySeconds: 0}';
    await h.apply(appYaml({ version: 'v1', replicas: 2, strategy }));
    await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 Healthy');
    const seen: Array<{ phase: string; message: string | undefined; revisions: number }> = [];
    const unsubscribe = h.controller.subscribe((change) => {
      const view = (change as { view?: ServiceView }).view;
      if (view?.name === 'app') seen.push({ phase: view.phase, message: view.message, revisions: view.revisions.length });
    });
    await h.apply(appYaml({ version: 'v2', replicas: 2, strategy }));
    // Done once v2 is Healthy and v1's instances are all gone.
    await until(() => { const v = h!.controller.get('app'); return v.phase === 'Healthy' && v.revisions.length === 1; }, 20_000, 'v2 alone, Healthy');
    unsubscribe();
    // v1's own Healthy views come first; v2's first Healthy follows its rollout's Progressing ones.
    const firstHealthy = seen.findIndex((v, i) => v.phase === 'Healthy' && seen.slice(0, i).some((x) => x.phase === 'Progressing'));
    expect(firstHealthy).toBeGreaterThan(0);
    // v1 was still there when v2 first said Healthy: the test covers its winding down.
    expect(seen[firstHealthy]!.revisions).toBe(2);
    expect(seen.slice(firstHealthy).filter((v) => v.phase !== 'Healthy')).toEqual([]);
  }, 40_000);
});
