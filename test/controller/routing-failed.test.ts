/**
 * A route table the router refuses: the service gets a RoutingFailed event saying why, and the
 * table in force stays (the router swaps whole tables or nothing).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RouterError } from '../../src/router/errors.js';
import type { RouterControl } from '../../src/router/control/router-control.js';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** The control, except that applyTable refuses every table while `refusing.on` is set. */
function refusingControl(refusing: { on: boolean }) {
  return (control: RouterControl): RouterControl => new Proxy(control, {
    get(target, prop, receiver) {
      if (prop === 'applyTable' && refusing.on) {
        return () => Promise.reject(new RouterError('INVALID_ROUTE_TABLE', 'route table refused by the test'));
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('a route table the router refuses', () => {
  it('is a RoutingFailed event of the service, and the table in force keeps routing', async () => {
    const refusing = { on: true };
    h = await startHarness({ wrapControl: refusingControl(refusing) });
    await h.apply(appYaml({ version: 'v1', replicas: 1 }));
    const failures = () => h!.controller.events({ service: 'app' }).filter((e) => e.reason === 'RoutingFailed');
    await until(() => failures().length > 0, 15_000, 'a RoutingFailed event');
    expect(failures()[0]).toMatchObject({ level: 'error', message: 'route table refused by the test' });
    // No table was ever taken: the router still answers as one starting, and nothing routes to the app.
    const early = await fetch(`${h.routerUrl}/`);
    expect([early.status, early.headers.get('x-graylane-error')]).toEqual([503, 'router-starting']);
    refusing.on = false;
    await until(async () => (await fetch(`${h!.routerUrl}/`)).status === 200, 15_000, 'the app routed once tables are taken');
  }, 40_000);
});
