/**
 * The generic JSON webhook: the notification as it is, plus a one-line `text`, POSTed to the URL.
 */
import { postJson } from '../http-post.js';
import { summary, type Notification, type NotificationReceiver, type SendContext } from '../notification.js';
import type { ReceiverSettings } from '../registry.js';

/** The body a webhook receives. */
export interface WebhookPayload extends Notification {
  /** Always `graylane`: receivers that take several sources tell them apart. */
  source: 'graylane';
  /** One line for people (the same as Slack's text). */
  text: string;
  /** When it happened, ISO 8601. */
  at: string;
}

/** See the file comment. */
export class WebhookReceiver implements NotificationReceiver {
  readonly type = 'webhook';
  readonly name: string;

  constructor(private readonly settings: ReceiverSettings) {
    this.name = settings.name;
  }

  send(n: Notification, { signal }: SendContext): Promise<void> {
    const body: WebhookPayload = { source: 'graylane', ...n, text: summary(n), at: new Date(n.atMs).toISOString() };
    return postJson({ url: this.settings.url, headers: this.settings.headers, body, signal, receiver: this.name });
  }
}
