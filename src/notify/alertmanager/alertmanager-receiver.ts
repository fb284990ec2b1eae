/**
 * An Alertmanager-compatible receiver (POST `<url>/api/v2/alerts`): an abort or a degraded
 * rollout fires `GraylaneRolloutFailed`; the next completion of the same rollout resolves it (the
 * same labels with `endsAt` now). Stateless on purpose: a controller restarted between the two
 * still resolves, and Alertmanager ignores the resolution of an alert it never had. Other
 * transitions are not alerts and are not sent.
 */
import { postJson } from '../http-post.js';
import type { Notification, NotificationReceiver, SendContext } from '../notification.js';
import type { ReceiverSettings } from '../registry.js';

/** The alert's name. */
export const ALERT_NAME = 'GraylaneRolloutFailed';

/** One alert as Alertmanager's v2 API takes it. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
}

/** The alerts `n` posts: one firing or resolved alert, or none for a transition that is no alert. */
export function alertsFor(n: Notification): PostableAlert[] {
  const firing = n.transition === 'aborted' || n.transition === 'degraded';
  if (!firing && n.transition !== 'completed') return [];
  // Labels identify the alert: nothing that differs between the firing and the resolution.
  const labels = { alertname: ALERT_NAME, namespace: n.namespace, [n.subject]: n.name, severity: 'critical', source: 'graylane' };
  const at = new Date(n.atMs).toISOString();
  if (!firing) return [{ labels, annotations: { summary: `${n.subject} ${n.name} completed`, description: n.message }, startsAt: at, endsAt: at }];
  return [{ labels, annotations: { summary: `${n.subject} ${n.name} ${n.transition}`, description: n.message, reason: n.reason }, startsAt: at }];
}

/** See the file comment. */
export class AlertmanagerReceiver implements NotificationReceiver {
  readonly type = 'alertmanager';
  readonly name: string;

  constructor(private readonly settings: ReceiverSettings) {
    this.name = settings.name;
  }

  async send(n: Notification, { signal }: SendContext): Promise<void> {
    const alerts = alertsFor(n);
    if (alerts.length === 0) return;
    await postJson({ url: `${this.settings.url.replace(/\/+$/, '')}/api/v2/alerts`, headers: this.settings.headers, body: alerts, signal, receiver: this.name });
  }
}
