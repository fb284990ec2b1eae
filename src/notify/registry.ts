/**
 * Receiver types by `type`, and the configuration (an App's `notifications`, or the cluster's
 * ConfigMap) made into receivers: URLs and headers read from the environment or files when the
 * receivers are built, filters, timeouts and retry counts with their defaults.
 */
import { readFileSync } from 'node:fs';
import type { Notifications, NotificationReceiverSpec, SecretSource } from '../documents/schema.js';
import { parseDurationMs } from '../lib/duration.js';
import { AlertmanagerReceiver } from './alertmanager/alertmanager-receiver.js';
import type { Notification, NotificationReceiver, NotificationTransition } from './notification.js';
import { SlackReceiver } from './slack/slack-receiver.js';
import { WebhookReceiver } from './webhook/webhook-receiver.js';

/** What a receiver type is built from: its name, its URL and headers, resolved. */
export interface ReceiverSettings {
  /** The configured name. */
  name: string;
  /** Where to POST (a secret for Slack: never logged). */
  url: string;
  /** Extra headers (may hold tokens: never logged). */
  headers: Readonly<Record<string, string>>;
}

/** The receiver types, by the configuration's `type`. */
export const RECEIVER_TYPES: Readonly<Record<NotificationReceiverSpec['type'], (settings: ReceiverSettings) => NotificationReceiver>> = {
  webhook: (s) => new WebhookReceiver(s),
  slack: (s) => new SlackReceiver(s),
  alertmanager: (s) => new AlertmanagerReceiver(s),
};

/** Default per-attempt timeout. */
export const DEFAULT_TIMEOUT_MS = 5_000;
/** Default attempts after the first. */
export const DEFAULT_RETRIES = 3;

/** Which notifications a receiver wants. */
export interface ReceiverFilter {
  /** Only these transitions; all when absent. */
  transitions?: readonly NotificationTransition[] | undefined;
  /** Only these services or releases; all when absent. */
  services?: readonly string[] | undefined;
  /** Only these namespaces; all when absent. */
  namespaces?: readonly string[] | undefined;
}

/** A receiver with what the notifier needs to deliver to it. */
export interface ConfiguredReceiver {
  /** Sends. */
  receiver: NotificationReceiver;
  /** What it wants. */
  filter: ReceiverFilter;
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
}

/** A receiver's URL or header could not be read (an unset variable, a missing file). */
export class NotificationConfigError extends Error {
  /** Stable code for callers. */
  readonly code = 'NotificationConfig';
  constructor(message: string) {
    super(message);
    this.name = 'NotificationConfigError';
  }
}

/** Where secrets are read from; injectable for tests. */
export interface SecretReaders {
  /** The environment (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads a file as text (default `readFileSync`). */
  readFile?: (path: string) => string;
}

/** Whether `filter` lets `n` through. */
export function accepts(filter: ReceiverFilter, n: Notification): boolean {
  if (filter.transitions && !filter.transitions.includes(n.transition)) return false;
  if (filter.services && !filter.services.includes(n.name)) return false;
  return !filter.namespaces || filter.namespaces.includes(n.namespace);
}

/**
 * The receivers of a configuration. One whose URL or header cannot be read still appears: each of
 * its sends fails with a {@link NotificationConfigError}, which is logged and counted like any
 * undelivered notification (the rollout goes on), and the error names the variable or file, not the value.
 */
export function buildReceivers(config: Notifications | undefined, readers: SecretReaders = {}): ConfiguredReceiver[] {
  const env = readers.env ?? process.env;
  const readFile = readers.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const read = (s: SecretSource, what: string): string => {
    if (s.value !== undefined) return s.value;
    if (s.fromEnv !== undefined) {
      const v = env[s.fromEnv];
      if (v === undefined || v === '') throw new NotificationConfigError(`${what}: environment variable ${s.fromEnv} is not set`);
      return v;
    }
    try {
      return readFile(s.fromFile ?? '').replace(/\r?\n$/, '');
    } catch (err) {
      throw new NotificationConfigError(`${what}: cannot read ${s.fromFile ?? ''}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  };
  return (config?.receivers ?? []).map((spec) => {
    const base = { filter: spec.filter ?? {}, timeoutMs: spec.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDurationMs(spec.timeout), retries: spec.retries ?? DEFAULT_RETRIES };
    try {
      const url = spec.url ?? read(spec.urlFrom ?? {}, `receiver ${spec.name}: url`);
      const headers = Object.fromEntries(Object.entries(spec.headers ?? {}).map(([h, s]) => [h, read(s, `receiver ${spec.name}: header ${h}`)]));
      return { ...base, receiver: RECEIVER_TYPES[spec.type]({ name: spec.name, url, headers }) };
    } catch (err) {
      if (!(err instanceof NotificationConfigError)) throw err;
      return { ...base, retries: 0, receiver: { name: spec.name, type: spec.type, send: () => Promise.reject(err) } };
    }
  });
}
