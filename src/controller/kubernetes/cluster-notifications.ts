/**
 * Notifications on the cluster: the receivers come from a ConfigMap (by default
 * `graylane-notifications` in the controller's namespace), key `notifications.yaml`, in the same
 * format as an App's `notifications` section. It is read at start and every `refreshMs` after,
 * so edits apply without a restart; a missing ConfigMap means no receivers, an invalid one is
 * logged (with the field) and leaves the last good receivers in force. The Rollouts' events come
 * through the event sink's decorator (notify/event-feed.ts); undelivered notifications are logged
 * and counted on `/metrics` as `graylane_notifications_total{receiver,outcome}`.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Value } from '@sinclair/typebox/value';
import { Counter, type Registry } from 'prom-client';
import { parse } from 'yaml';
import { checkNotifications } from '../../documents/semantic.js';
import { Notifications } from '../../documents/schema.js';
import { EventFeed } from '../../notify/event-feed.js';
import { Notifier } from '../../notify/notifier.js';
import { buildReceivers, type ConfiguredReceiver, type SecretReaders } from '../../notify/registry.js';
import type { ControllerLog } from './controller-loop.js';
import { NOTIFICATIONS_KEY } from './notification-names.js';

export { NOTIFICATIONS_CONFIGMAP, NOTIFICATIONS_KEY } from './notification-names.js';

/** Options of {@link ClusterNotifications}. */
export interface ClusterNotificationsOptions {
  /** The cluster. */
  kubeConfig: KubeConfig;
  /** Where the ConfigMap is. */
  configMap: { namespace: string; name: string };
  /** How often it is read again (default 30 s). */
  refreshMs?: number | undefined;
  /** Structured log. */
  log: ControllerLog;
  /** Where `fromEnv` and `fromFile` are read (tests). */
  secrets?: SecretReaders | undefined;
}

/** See the file comment. */
export class ClusterNotifications {
  /** Feeds the notifier; the event sink's decorator calls it. */
  readonly feed: EventFeed;
  private readonly notifier: Notifier;
  private receivers: ConfiguredReceiver[] = [];
  private lastText: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ClusterNotificationsOptions) {
    this.notifier = new Notifier({ receivers: () => this.receivers, log: (level, message, fields) => options.log(level, message, { ...fields }) });
    this.feed = new EventFeed((n) => this.notifier.notify(n));
  }

  /** Reads the ConfigMap once, then keeps reading it. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? 30_000);
    this.timer.unref();
  }

  /** Stops reading and delivering. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.notifier.close();
  }

  /** Adds `graylane_notifications_total` to the controller's registry. */
  register(registry: Registry): void {
    const figures = () => this.notifier.figures();
    new Counter({
      name: 'graylane_notifications_total', help: 'Notifications by receiver and outcome (delivered, failed after the retries, dropped from a full queue, retried attempts).', labelNames: ['receiver', 'outcome'], registers: [registry],
      collect() {
        this.reset();
        for (const [receiver, f] of figures()) for (const outcome of ['delivered', 'failed', 'dropped', 'retried'] as const) this.inc({ receiver, outcome }, f[outcome]);
      },
    });
  }

  private async refresh(): Promise<void> {
    const { namespace, name } = this.options.configMap;
    const where = { configMap: `${namespace}/${name}` };
    let text: string | undefined;
    try {
      const cm = await this.options.kubeConfig.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace, name });
      text = cm.data?.[NOTIFICATIONS_KEY];
    } catch (error) {
      if ((error as { code?: unknown }).code !== 404) {
        this.options.log('warn', 'notifications: cannot read the ConfigMap; the receivers in force stay', { ...where, error: (error as Error).message });
        return;
      }
    }
    if (text === this.lastText) return;
    this.lastText = text;
    if (text === undefined) {
      this.receivers = [];
      return;
    }
    const problem = problemOf(text);
    if (problem !== undefined) {
      this.options.log('error', `notifications: ${NOTIFICATIONS_KEY} is invalid; the receivers in force stay`, { ...where, problem });
      return;
    }
    const config = parse(text) as Notifications;
    this.receivers = buildReceivers(config, this.options.secrets);
    this.options.log('info', 'notifications: receivers', { ...where, receivers: config.receivers.map((r) => `${r.name} (${r.type})`).join(', ') });
  }
}

/** What is wrong with a configuration's text, as `field: reason`, or undefined. */
export function problemOf(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    return `not YAML: ${(error as Error).message}`;
  }
  const first = Value.Errors(Notifications, doc).First();
  if (first) return `${first.path === '' ? '(top)' : first.path.slice(1).replaceAll('/', '.')}: ${first.message}`;
  const issue = checkNotifications(doc as Notifications, [])[0];
  return issue && `${issue.path.join('.')}: ${issue.reason}`;
}
