/**
 * The live feed of the console: one EventSource on `/v1/events` (the browser asks for
 * text/event-stream and sends the session cookie), whose `status` messages carry a service's new
 * view and `event` messages a new event. Pages subscribe; a step change shows as soon as the
 * server sends it, with no polling.
 */
import { useEffect, useState } from 'react';
import { contractIssues, EventViewSchema, ServiceViewSchema, type EventView, type ServiceView } from '../api/contract/index.js';

/** How long the stream may be down before the header says it is reconnecting. */
const RECONNECTING_AFTER_MS = 3_000;

/** One message of the stream, checked against the contract. */
export type LiveMessage = { type: 'status'; data: ServiceView } | { type: 'event'; data: EventView };

/** Whether the stream is open, (re)connecting, or failed for good. */
export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** What pages subscribe to. */
export interface LiveFeed {
  /** Calls `listener` with every message until the returned function is called. */
  subscribe: (listener: (message: LiveMessage) => void) => () => void;
}

/** A feed and the way to deliver to it (kept out of render: the set is mutated only by calls). */
function createFeed(): LiveFeed & { publish: (message: LiveMessage) => void } {
  const listeners = new Set<(m: LiveMessage) => void>();
  return {
    subscribe: (listener) => {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    publish: (message) => { for (const l of listeners) l(message); },
  };
}

/**
 * Opens the stream while `enabled`, and reconnects as the browser does; on an error it asks
 * `onBroken` (which checks whether the session ended).
 */
export function useLiveViews(options: { enabled: boolean; onBroken: () => void }): { feed: LiveFeed; state: LiveState } {
  const [state, setState] = useState<LiveState>('connecting');
  const [feed] = useState(createFeed);
  const { enabled, onBroken } = options;

  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource('/v1/events');
    const deliver = (type: 'status' | 'event', raw: string) => {
      let data: unknown;
      try {
        data = JSON.parse(raw);
      } catch {
        return;
      }
      // A message the contract does not allow (a server of another version) is skipped, not shown half.
      const schema = type === 'status' ? ServiceViewSchema : EventViewSchema;
      if (contractIssues(schema, data).length > 0) return;
      const message = { type, data } as LiveMessage;
      feed.publish(message);
    };
    // The browser reconnects by itself; say so only when the stream stays down (no flicker on a blip).
    let down: ReturnType<typeof setTimeout> | undefined;
    source.addEventListener('open', () => {
      clearTimeout(down);
      down = undefined;
      setState('live');
    });
    source.addEventListener('status', (e) => deliver('status', (e as MessageEvent<string>).data));
    source.addEventListener('event', (e) => deliver('event', (e as MessageEvent<string>).data));
    source.addEventListener('error', () => {
      down ??= setTimeout(() => setState('reconnecting'), RECONNECTING_AFTER_MS);
      onBroken();
    });
    return () => {
      clearTimeout(down);
      source.close();
    };
  }, [enabled, onBroken, feed]);

  return { feed, state };
}
