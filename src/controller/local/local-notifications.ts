/**
 * Notifications on a single host: the App's `notifications` receivers, fed from the event log's
 * stream (rollouts' and releases' events alike). Receivers are rebuilt when an apply changes the
 * section. What could not be delivered becomes a `NotificationFailed` event of the service (the
 * daemon's log is its event log); the counts are {@link LocalNotifications.figures}.
 */
import type { App, Notifications } from '../../documents/schema.js';
import { EventFeed } from '../../notify/event-feed.js';
import { Notifier, type ReceiverFigures } from '../../notify/notifier.js';
import { buildReceivers, type ConfiguredReceiver, type SecretReaders } from '../../notify/registry.js';
import { DEFAULT_NAMESPACE } from '../../state/state-port.js';
import type { EventView } from '../control-plane.js';

/** Options of {@link LocalNotifications}. */
export interface LocalNotificationsOptions {
  /** The applied App. */
  app: () => App | undefined;
  /** Records an event of a service. */
  emit: (service: string, level: 'warning', reason: string, message: string) => void;
  /** Where `fromEnv` and `fromFile` are read (tests). */
  secrets?: SecretReaders | undefined;
}

/** See the file comment. */
export class LocalNotifications {
  private readonly notifier: Notifier;
  private readonly feed: EventFeed;
  private built: { config: string; receivers: ConfiguredReceiver[] } = { config: 'null', receivers: [] };

  constructor(private readonly options: LocalNotificationsOptions) {
    this.notifier = new Notifier({
      receivers: () => this.receivers(),
      log: (_level, message, fields) => {
        const service = String(fields.subject ?? '').slice(DEFAULT_NAMESPACE.length + 1);
        const why = fields.error === undefined ? '' : `: ${fields.error}`;
        options.emit(service, 'warning', 'NotificationFailed', `${message} (receiver ${fields.receiver ?? ''}, ${fields.transition ?? ''})${why}`);
      },
    });
    this.feed = new EventFeed((n) => this.notifier.notify(n));
  }

  /** One event of the log's stream. */
  event(e: EventView): void {
    this.feed.event({ namespace: DEFAULT_NAMESPACE, name: e.service }, e);
  }

  /** Delivered, failed, dropped and retried notifications per receiver. */
  figures(): ReadonlyMap<string, Readonly<ReceiverFigures>> {
    return this.notifier.figures();
  }

  /** Resolves once nothing is queued (tests). */
  settled(): Promise<void> {
    return this.notifier.settled();
  }

  /** Stops delivering; what is queued is dropped. */
  close(): Promise<void> {
    return this.notifier.close();
  }

  private receivers(): ConfiguredReceiver[] {
    const section: Notifications | undefined = this.options.app()?.spec.notifications;
    const config = JSON.stringify(section ?? null);
    if (config !== this.built.config) this.built = { config, receivers: buildReceivers(section, this.options.secrets) };
    return this.built.receivers;
  }
}
