/**
 * The notification port: what a receiver is told of a rollout's or a release's transition, and
 * the one method a receiver type implements. Receivers are chosen by `type` in registry.ts; the
 * notifier (notifier.ts) filters, queues, retries and counts, so a receiver only sends once.
 */
import type { NotificationTransition } from '../documents/schema.js';

export type { NotificationTransition } from '../documents/schema.js';

/** One transition of one rollout (a service) or release, as receivers are told of it. */
export interface Notification {
  /** What happened. */
  transition: NotificationTransition;
  /** A rollout of a service, or a release of several. */
  subject: 'rollout' | 'release';
  /** The namespace (`default` on a single host). */
  namespace: string;
  /** The service's (rollout's) or release's name. */
  name: string;
  /** The controller's machine-readable reason, e.g. `RolloutAborted`, `GuardFailed`. */
  reason: string;
  /** The controller's sentence; for an abort it says why. */
  message: string;
  /** Severity of the underlying event. */
  level: 'info' | 'warning' | 'error';
  /** When it happened, epoch ms. */
  atMs: number;
}

/** What one send may use. */
export interface SendContext {
  /** Aborted when the attempt's timeout passes (the notifier owns the timeout). */
  signal: AbortSignal;
}

/** A receiver of one type, configured (URL and headers resolved). */
export interface NotificationReceiver {
  /** The receiver's name from the configuration: logs and metrics say it, never its URL. */
  readonly name: string;
  /** Its type, the registry's key. */
  readonly type: string;
  /**
   * Delivers one notification, or rejects. A rejection that carries `retryAfterMs`
   * (src/lib/retry-after.ts) asks the notifier to wait that long before the next attempt.
   */
  send(notification: Notification, context: SendContext): Promise<void>;
}

/** The one-line summary receivers that show text use. */
export function summary(n: Notification): string {
  const who = `${n.subject} ${n.namespace === 'default' ? '' : `${n.namespace}/`}${n.name}`;
  return `${who} ${n.transition}: ${n.message}`;
}
