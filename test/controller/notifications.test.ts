/**
 * Notifications from a real single-host rollout (child processes, the router, SQLite) to real
 * loopback receivers: the transitions in order, the abort's reason, the filter, and a receiver
 * that never answers holding nothing up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';
import { startReceiver, type ReceiverServer } from '../fixtures/notify/receiver-server.js';

let h: Harness | undefined;
const receivers: ReceiverServer[] = [];
afterEach(async () => {
  await h?.stop();
  h = undefined;
  for (const r of receivers.splice(0)) await r.close();
});

const strategy = '      canary:\n        trafficRouting: {}\n        steps: [{setWeight: 50}, {pause: {}}]';

async function receiver(): Promise<ReceiverServer> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

/** The App with a `notifications` section (YAML lines under `spec:`). */
const withNotifications = (version: string, section: string) => `${appYaml({ version, replicas: 1, strategy })}  notifications:\n${section}`;

type Body = { transition: string; name: string; reason: string; message: string; subject: string; namespace: string; source: string; text: string };
const transitions = (r: ReceiverServer) => r.received.map((x) => (x.body as Body).transition);

describe('notifications on a single host', () => {
  it('sends started → step → paused → promoted → completed, in order, to a JSON webhook with its header', async () => {
    const hook = await receiver();
    h = await startHarness();
    const section = `    receivers:\n    - {name: ops, type: webhook, url: '${hook.url}/hook', headers: {Authorization: {value: Bearer t0k}}}\n`;
    await h.apply(withNotifications('v1', section));
    await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
    await h.apply(withNotifications('v2', section));
    await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'v2 paused');
    await h.controller.operate('app', { type: 'promote' });
    await until(() => transitions(hook).includes('completed'), 15_000, 'the completed notification');
    expect(transitions(hook)).toEqual(['started', 'step', 'paused', 'promoted', 'completed']);
    const first = hook.received[0]!;
    expect(first.path).toBe('/hook');
    expect(first.headers.authorization).toBe('Bearer t0k');
    expect(first.body).toMatchObject({ source: 'graylane', subject: 'rollout', namespace: 'default', name: 'app', reason: 'RolloutStarted' });
    expect((first.body as Body).text).toMatch(/^rollout app started: Rolling out revision /);
  }, 60_000);

  it('an abort sends its reason; the filter keeps only aborts of this service from the second receiver', async () => {
    const all = await receiver();
    const onlyAborts = await receiver();
    const otherService = await receiver();
    h = await startHarness();
    const section = [
      '    receivers:',
      `    - {name: all, type: webhook, url: '${all.url}'}`,
      `    - {name: aborts, type: webhook, url: '${onlyAborts.url}', filter: {transitions: [aborted], services: [app], namespaces: [default]}}`,
      `    - {name: other, type: webhook, url: '${otherService.url}', filter: {services: [web]}}`,
      '',
    ].join('\n');
    await h.apply(withNotifications('v1', section));
    await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
    await h.apply(withNotifications('v2', section));
    await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'v2 paused');
    await h.controller.operate('app', { type: 'abort' });
    await until(() => onlyAborts.received.length === 1 && transitions(all).includes('aborted'), 15_000, 'the abort notifications');
    expect(onlyAborts.received[0]!.body).toMatchObject({ transition: 'aborted', reason: 'RolloutAborted', message: 'Rollout aborted: aborted by request' });
    expect(transitions(all).slice(0, 3)).toEqual(['started', 'step', 'paused']);
    // Nothing more for the filtered receivers however long the rest takes.
    await new Promise((r) => setTimeout(r, 300));
    expect(onlyAborts.received).toHaveLength(1);
    expect(otherService.received).toEqual([]);
  }, 60_000);

  it('a receiver that never answers (20 s timeout, 3 retries) holds no rollout up', async () => {
    const silent = await receiver();
    silent.hang = true;
    h = await startHarness();
    // 20 s per attempt and 3 retries: a rollout waiting on it would wait over a minute.
    const section = `    receivers:\n    - {name: silent, type: webhook, url: '${silent.url}', timeout: 20s, retries: 3}\n`;
    await h.apply(withNotifications('v1', section));
    await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
    const startedAt = Date.now();
    await h.apply(withNotifications('v2', section));
    await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'v2 paused');
    await h.controller.operate('app', { type: 'promote' });
    await until(() => h!.controller.events({ service: 'app' }).some((e) => e.reason === 'RolloutCompleted'), 15_000, 'v2 completed');
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(silent.received.length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a receiver whose URL variable is unset: each notification it misses is a NotificationFailed event naming the variable, not a value', async () => {
    h = await startHarness();
    const section = '    receivers:\n    - {name: chat, type: slack, urlFrom: {fromEnv: GRAYLANE_TEST_UNSET_SLACK_URL}}\n';
    await h.apply(withNotifications('v1', section));
    await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
    await h.apply(withNotifications('v2', section));
    const failed = () => h!.controller.events({ service: 'app' }).filter((e) => e.reason === 'NotificationFailed').map((e) => e.message);
    await until(() => failed().length >= 1, 15_000, 'a NotificationFailed event');
    expect(failed()[0]).toBe('notification not delivered (receiver chat, started): receiver chat: url: environment variable GRAYLANE_TEST_UNSET_SLACK_URL is not set');
    expect(h.controller.notifications.figures().get('chat')?.failed).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
