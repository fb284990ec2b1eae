/** Events, apply results and the server-sent messages of the API, as TypeBox schemas. */
import { Type, type Static } from '@sinclair/typebox';
import { ServiceViewSchema } from './views.js';

/** One history line of what happened. */
export const EventViewSchema = Type.Object({
  id: Type.Integer({ minimum: 0, description: 'increasing id, for resuming a stream' }),
  service: Type.String({ description: 'service (or release) it concerns' }),
  atMs: Type.Number({ description: 'epoch ms' }),
  level: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('error')], { description: 'severity' }),
  reason: Type.String({ description: 'machine-readable reason' }),
  message: Type.String({ description: 'a sentence' }),
});

/** See {@link EventViewSchema}. */
export type EventView = Static<typeof EventViewSchema>;

/** What `apply` did to each service. */
export const ApplyResultSchema = Type.Object({
  services: Type.Array(Type.Object({
    name: Type.String(),
    revision: Type.String(),
    revisionNumber: Type.Integer({ minimum: 0 }),
    change: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('unchanged'), Type.Literal('rollback')]),
  }), { description: 'one line per service in the file' }),
  warnings: Type.Array(Type.String(), { description: 'things the user should know that did not stop the apply' }),
  removed: Type.Array(Type.String(), { description: 'services the file no longer names that were removed, with their history' }),
});

/** See {@link ApplyResultSchema}. */
export type ApplyResult = Static<typeof ApplyResultSchema>;

/**
 * The messages of `GET /v1/events` with `Accept: text/event-stream`: `event` (an {@link EventView},
 * with the SSE id set to its id) and `status` (a {@link ServiceViewSchema} view that changed).
 */
export const StreamMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('event'), data: EventViewSchema }),
  Type.Object({ type: Type.Literal('status'), data: ServiceViewSchema }),
]);

/** See {@link StreamMessageSchema}. */
export type StreamMessage = Static<typeof StreamMessageSchema>;
