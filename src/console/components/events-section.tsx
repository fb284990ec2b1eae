import type { EventView } from '../../api/contract/index.js';
import { formatClock } from '../format.js';

/** What happened to the service, newest first. */
export function EventsSection(props: { events: readonly EventView[] }) {
  return (
    <section className="section" aria-labelledby="events-title">
      <h2 id="events-title">Events</h2>
      {props.events.length === 0 ? <p className="muted">No events yet.</p> : (
        <ol className="events" reversed>
          {props.events.map((e) => (
            <li key={e.id} className={`event event-${e.level}`}>
              <time dateTime={new Date(e.atMs).toISOString()}>{formatClock(e.atMs)}</time>
              <span className="event-reason">{e.reason}</span>
              <span className="event-message">{e.message}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
