/**
 * The notifier and the receiver types against real loopback receivers: payload shapes (webhook,
 * Slack, Alertmanager firing on abort and resolving on completion), Retry-After honoured, a
 * refusal not retried, retries bounded, order kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Notifications } from '../documents/schema.js';
import { startReceiver, type ReceiverServer } from '../../test/fixtures/notify/receiver-server.js';
import type { Notification } from './notification.js';
import { Notifier } from './notifier.js';
import { buildReceivers } from './registry.js';

const servers: ReceiverServer[] = [];
const notifiers: Notifier[] = [];
afterEach(async () => {
  for (const n of notifiers.splice(0)) await n.close();
  for (const s of servers.splice(0)) await s.close();
});

async function server(): Promise<ReceiverServer> {
  const s = await startReceiver();
  servers.push(s);
  return s;
}

function notifier(config: Notifications, o: { backoffBaseMs?: number; env?: Record<string, string> } = {}) {
  const logs: { message: string; fields: Readonly<Record<string, string | number>> }[] = [];
  const receivers = buildReceivers(config, { env: o.env ?? {} });
  const n = new Notifier({ receivers: () => receivers, log: (_l, message, fields) => logs.push({ message, fields }), backoffBaseMs: o.backoffBaseMs ?? 20 });
  notifiers.push(n);
  return { n, logs };
}

const at = Date.UTC(2025, 0, 2, 3, 4, 5);
const note = (transition: Notification['transition'], over: Partial<Notification> = {}): Notification => ({
  transition, subject: 'rollout', namespace: 'shop', name: 'web', reason: 'RolloutAborted', message: 'Rollout aborted: aborted by the guard: error rate 12%', level: 'warning', atMs: at, ...over,
});

describe('receiver payloads', () => {
  it('Slack: text for clients without blocks, and blocks with the sentence and the facts; the URL comes from the environment', async () => {
    const s = await server();
    const { n } = notifier({ receivers: [{ name: 'chat', type: 'slack', urlFrom: { fromEnv: 'SLACK_URL' } }] }, { env: { SLACK_URL: `${s.url}/services/T/B/x` } });
    n.notify(note('aborted', { reason: 'GuardFailed' }));
    await n.settled();
    expect(s.received).toHaveLength(1);
    expect(s.received[0]!.path).toBe('/services/T/B/x');
    expect(s.received[0]!.body).toEqual({
      text: ':x: rollout shop/web aborted: Rollout aborted: aborted by the guard: error rate 12%',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: ':x: *rollout web* aborted\nRollout aborted: aborted by the guard: error rate 12%' } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'namespace `shop` · reason `GuardFailed` · 2025-01-02T03:04:05.000Z' }] },
      ],
    });
  });

  it('Alertmanager: an abort fires GraylaneRolloutFailed; the next completion resolves the same labels; other transitions send nothing', async () => {
    const s = await server();
    const { n } = notifier({ receivers: [{ name: 'am', type: 'alertmanager', url: `${s.url}/` }] });
    n.notify(note('started'));
    n.notify(note('aborted'));
    n.notify(note('step'));
    n.notify(note('completed', { atMs: at + 60_000, message: 'Revision b is now stable (was a)', reason: 'RolloutCompleted' }));
    await n.settled();
    expect(s.received.map((r) => r.path)).toEqual(['/api/v2/alerts', '/api/v2/alerts']);
    const labels = { alertname: 'GraylaneRolloutFailed', namespace: 'shop', rollout: 'web', severity: 'critical', source: 'graylane' };
    expect(s.received[0]!.body).toEqual([{ labels, annotations: { summary: 'rollout web aborted', description: 'Rollout aborted: aborted by the guard: error rate 12%', reason: 'RolloutAborted' }, startsAt: '2025-01-02T03:04:05.000Z' }]);
    expect(s.received[1]!.body).toEqual([{ labels, annotations: { summary: 'rollout web completed', description: 'Revision b is now stable (was a)' }, startsAt: '2025-01-02T03:05:05.000Z', endsAt: '2025-01-02T03:05:05.000Z' }]);
  });
});

describe('delivery', () => {
  it('a 503 with Retry-After: 1 is retried after about a second, and the next notification waits its turn', async () => {
    const s = await server();
    s.script = [{ status: 503, headers: { 'retry-after': '1' } }];
    const { n } = notifier({ receivers: [{ name: 'hook', type: 'webhook', url: s.url }] }, { backoffBaseMs: 5 });
    n.notify(note('started'));
    n.notify(note('completed'));
    await n.settled();
    expect(s.received.map((r) => (r.body as Notification).transition)).toEqual(['started', 'started', 'completed']);
    const waited = s.received[1]!.atMs - s.received[0]!.atMs;
    // The back-off alone would be 5 ms: the wait is the server's.
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(5_000);
    expect(n.figures().get('hook')).toEqual({ delivered: 2, failed: 0, dropped: 0, retried: 1 });
  });

  it('gives up after the retries, logs without the URL, counts, and goes on with the next', async () => {
    const s = await server();
    s.script = [{ status: 500 }, { status: 502 }, { status: 500 }];
    const { n, logs } = notifier({ receivers: [{ name: 'hook', type: 'webhook', url: `${s.url}/secret-token`, retries: 2 }] });
    n.notify(note('aborted'));
    n.notify(note('completed'));
    await n.settled();
    expect(s.received).toHaveLength(4);
    expect(n.figures().get('hook')).toEqual({ delivered: 1, failed: 1, dropped: 0, retried: 2 });
    expect(logs).toEqual([{ message: 'notification not delivered', fields: { receiver: 'hook', type: 'webhook', transition: 'aborted', subject: 'shop/web', attempts: 3, error: 'receiver hook: HTTP 500' } }]);
    expect(JSON.stringify(logs)).not.toContain('secret-token');
  });

  it('a refusal (401) is not retried; an unreachable receiver is retried, then given up', async () => {
    const s = await server();
    s.script = [{ status: 401 }];
    const down = await server();
    const downUrl = down.url;
    await down.close();
    servers.splice(servers.indexOf(down), 1);
    const { n, logs } = notifier({ receivers: [{ name: 'auth', type: 'webhook', url: s.url }, { name: 'down', type: 'webhook', url: downUrl, retries: 1 }] });
    n.notify(note('started'));
    await n.settled();
    expect(s.received).toHaveLength(1);
    expect(n.figures().get('auth')).toMatchObject({ failed: 1, retried: 0 });
    expect(n.figures().get('down')).toMatchObject({ failed: 1, retried: 1 });
    expect(logs.map((l) => l.fields.error).sort()).toEqual(['receiver auth: HTTP 401', 'receiver down: unreachable (ECONNREFUSED)']);
  });

  it('an attempt ends at the timeout', async () => {
    const s = await server();
    s.hang = true;
    const { n, logs } = notifier({ receivers: [{ name: 'slow', type: 'webhook', url: s.url, timeout: '200ms', retries: 0 }] });
    const started = Date.now();
    n.notify(note('started'));
    await n.settled();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(logs[0]!.fields.error).toBe('receiver slow: no answer before the timeout');
  });

  it('the filter takes transitions, services and namespaces together', async () => {
    const s = await server();
    const { n } = notifier({ receivers: [{ name: 'f', type: 'webhook', url: s.url, filter: { transitions: ['aborted', 'completed'], services: ['web'], namespaces: ['shop'] } }] });
    n.notify(note('started'));
    n.notify(note('aborted', { name: 'api' }));
    n.notify(note('aborted', { namespace: 'other' }));
    n.notify(note('completed'));
    await n.settled();
    expect(s.received.map((r) => r.body as Notification).map((b) => `${b.transition} ${b.namespace}/${b.name}`)).toEqual(['completed shop/web']);
  });
});
