/**
 * Every endpoint of the daemon's API with its request and response schemas: what the server
 * validates bodies against, what the client validates answers against, and what the OpenAPI
 * document is generated from.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { ApplyBodySchema, OPERATION_PATHS } from './operations.js';
import { ApplyResultSchema, EventViewSchema } from './events.js';
import { AnalysisRunViewSchema, DataPlaneViewSchema, RevisionViewSchema, ServiceViewSchema } from './views.js';
import { PlanViewSchema, SeriesSchema, SessionRequestSchema, SessionSchema } from './console.js';

/** One endpoint of the API. */
export interface Endpoint {
  /** HTTP method. */
  method: 'get' | 'post';
  /** OpenAPI path, `{name}` for the service or release. */
  path: string;
  /** One line for people. */
  summary: string;
  /** Whether the bearer token (or a console session cookie, with the CSRF header on a change) is needed. */
  authenticated: boolean;
  /** The JSON body it takes, when it takes one. */
  body?: TSchema;
  /** The JSON answer on success. */
  response?: TSchema;
  /** A streamed answer's media type instead of JSON (the JSON answer, if any, is for other Accept values). */
  stream?: 'text/event-stream' | 'text/plain';
  /** Query parameters. */
  query?: { name: string; description: string; schema: TSchema }[];
  /** Error statuses it may answer, beside 401 (and 403 for changes, from the console) for authenticated ones. */
  errors: number[];
}

/** `GET /v1/health`. */
export const HealthSchema = Type.Object({ ok: Type.Boolean(), version: Type.String({ description: 'the daemon\'s version' }) });
/** `GET /v1/services`. */
export const ServiceListSchema = Type.Object({ services: Type.Array(ServiceViewSchema) });
/** `GET /v1/services/{name}/history`. */
export const HistorySchema = Type.Object({ revisions: Type.Array(RevisionViewSchema, { description: 'newest first' }) });
/** `GET /v1/services/{name}/analysis`. */
export const AnalysisListSchema = Type.Object({ runs: Type.Array(AnalysisRunViewSchema, { description: 'newest first' }) });
/** `GET /v1/events` without a stream. */
export const EventListSchema = Type.Object({ events: Type.Array(EventViewSchema, { description: 'oldest first' }) });

const state = [503];
/** `POST /v1/session/end`. */
export const SessionEndSchema = Type.Object({ ended: Type.Boolean() });

/** The API, endpoint by endpoint. */
export const ENDPOINTS: readonly Endpoint[] = [
  { method: 'get', path: '/v1/health', summary: 'Liveness of the daemon (no token needed).', authenticated: false, response: HealthSchema, errors: [] },
  { method: 'post', path: '/v1/apply', summary: 'Validate and apply an App file as one unit.', authenticated: true, body: ApplyBodySchema, response: ApplyResultSchema, errors: [400, 409, 422, ...state] },
  { method: 'get', path: '/v1/data-plane', summary: 'The single host\'s data plane: where the router runs, its workers, and the workers that died and what replaced them.', authenticated: true, response: DataPlaneViewSchema, errors: [404] },
  { method: 'get', path: '/v1/services', summary: 'Every service and release with its rollout view.', authenticated: true, response: ServiceListSchema, errors: [] },
  { method: 'get', path: '/v1/services/{name}', summary: 'One service\'s (or release\'s) rollout view.', authenticated: true, response: ServiceViewSchema, errors: [404] },
  {
    method: 'get', path: '/v1/services/{name}/history', summary: 'Revisions, newest first; environment values masked unless ?showEnv=true.', authenticated: true, response: HistorySchema, errors: [404],
    query: [{ name: 'showEnv', description: 'true shows environment values', schema: Type.Union([Type.Literal('true'), Type.Literal('false')]) }],
  },
  { method: 'get', path: '/v1/services/{name}/analysis', summary: 'Analysis runs and their measurements.', authenticated: true, response: AnalysisListSchema, errors: [404] },
  {
    method: 'get', path: '/v1/services/{name}/logs', authenticated: true, stream: 'text/plain', errors: [400, 404],
    summary: 'Instance logs, streamed. A body cut short (no final chunk) means the stream failed.',
    query: [
      { name: 'revision', description: 'only this revision (name or number)', schema: Type.String() },
      { name: 'tail', description: 'the last N lines of each instance', schema: Type.String({ pattern: '^[0-9]+$' }) },
      { name: 'since', description: 'lines since this time: epoch ms or RFC 3339', schema: Type.String() },
      { name: 'follow', description: '1 keeps streaming new lines', schema: Type.Literal('1') },
    ],
  },
  {
    method: 'post', path: '/v1/session', authenticated: false, body: SessionRequestSchema, response: SessionSchema, errors: [400, 401, 429],
    summary: 'Console sign-in with the token: the session id comes back in the HttpOnly cookie graylane-session, the CSRF token in the answer. Wrong tokens are slowed (429 with Retry-After).',
  },
  { method: 'get', path: '/v1/session', authenticated: false, response: SessionSchema, errors: [401], summary: 'The console session of the cookie (its CSRF token again); 401 without one.' },
  { method: 'post', path: '/v1/session/end', authenticated: false, response: SessionEndSchema, errors: [401, 403], summary: 'Ends the console session of the cookie (with the x-graylane-csrf header).' },
  { method: 'get', path: '/v1/services/{name}/series', summary: 'Per-revision requests/s, error rate and p99 of the last minutes, oldest first (the console\'s charts).', authenticated: true, response: SeriesSchema, errors: [404] },
  { method: 'get', path: '/v1/services/{name}/plan', summary: 'The rollout\'s plan (what `graylane plan` prints) and the time left from its current step.', authenticated: true, response: PlanViewSchema, errors: [404] },
  ...Object.entries(OPERATION_PATHS).map(([op, { body, summary }]): Endpoint => ({
    method: 'post', path: `/v1/services/{name}/${op}`, summary, authenticated: true, body, response: ServiceViewSchema, errors: [400, 404, 409, ...state],
  })),
  {
    method: 'get', path: '/v1/events', authenticated: true, response: EventListSchema, stream: 'text/event-stream', errors: [],
    summary: 'Events; with Accept: text/event-stream a live stream of `event` (an event) and `status` (a view) messages (Last-Event-ID resumes).',
    query: [
      { name: 'service', description: 'only this service\'s (or release\'s)', schema: Type.String() },
      { name: 'after', description: 'only events after this id', schema: Type.String({ pattern: '^[0-9]+$' }) },
    ],
  },
];
