/**
 * A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat take the same body): `text`
 * for notifications and clients without blocks, `blocks` with the sentence and the facts.
 */
import { postJson } from '../http-post.js';
import { summary, type Notification, type NotificationReceiver, type SendContext } from '../notification.js';
import type { ReceiverSettings } from '../registry.js';

const EMOJI: Readonly<Record<Notification['transition'], string>> = {
  started: ':rocket:', step: ':arrow_forward:', paused: ':double_vertical_bar:', promoted: ':white_check_mark:',
  aborted: ':x:', degraded: ':warning:', 'rolled-back': ':leftwards_arrow_with_hook:', completed: ':tada:',
};

/** The incoming-webhook body for `n`. */
export function slackPayload(n: Notification): { text: string; blocks: unknown[] } {
  const text = `${EMOJI[n.transition]} ${summary(n)}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${EMOJI[n.transition]} *${n.subject} ${n.name}* ${n.transition}\n${n.message}` } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `namespace \`${n.namespace}\` · reason \`${n.reason}\` · ${new Date(n.atMs).toISOString()}` }],
      },
    ],
  };
}

/** See the file comment. */
export class SlackReceiver implements NotificationReceiver {
  readonly type = 'slack';
  readonly name: string;

  constructor(private readonly settings: ReceiverSettings) {
    this.name = settings.name;
  }

  send(n: Notification, { signal }: SendContext): Promise<void> {
    return postJson({ url: this.settings.url, headers: this.settings.headers, body: slackPayload(n), signal, receiver: this.name });
  }
}
