/**
 * What the web console needs beyond the CLI's endpoints: a browser session (sign-in with the
 * daemon's token, a cookie and a CSRF token), the live figures of the last minutes per revision
 * for its charts, and the plan of a rollout for its step pipeline, ETA and worst-case rollback.
 */
import { Type, type Static } from '@sinclair/typebox';
import { RevisionRoleSchema } from './views.js';

/** `POST /v1/session`: sign in with the daemon's token (or the dashboard's sign-in code). */
export const SessionRequestSchema = Type.Object({
  token: Type.String({ minLength: 1, description: 'the daemon\'s token (single host) or the code `graylane dashboard` printed (cluster)' }),
}, { additionalProperties: false });

/** `GET|POST /v1/session`: the signed-in session as the page may know it (the session id stays in an HttpOnly cookie). */
export const SessionSchema = Type.Object({
  csrfToken: Type.String({ description: 'sent back in the `x-graylane-csrf` header of every change the page makes' }),
  place: Type.Union([Type.Literal('single-host'), Type.Literal('kubernetes')], { description: 'where the rollouts shown run' }),
  version: Type.String({ description: 'the server\'s version' }),
  expiresAtMs: Type.Number({ description: 'when the session ends, epoch ms; sign in again after' }),
});

/** One revision's figures at one sample. */
export const SeriesSampleSchema = Type.Object({
  name: Type.String({ description: 'revision name' }),
  role: RevisionRoleSchema,
  weight: Type.Number({ minimum: 0, maximum: 100, description: 'its traffic weight, percent' }),
  requestsPerSecond: Type.Number({ minimum: 0 }),
  errorRate: Type.Number({ minimum: 0, description: 'fraction of responses that were errors' }),
  p99Ms: Type.Union([Type.Number(), Type.Null()], { description: 'null without traffic' }),
});

/** `GET /v1/services/{name}/series`: the figures of the last minutes, oldest first, for the console's charts. */
export const SeriesSchema = Type.Object({
  name: Type.String({ description: 'service or release' }),
  intervalMs: Type.Number({ minimum: 1, description: 'time between samples' }),
  points: Type.Array(Type.Object({
    atMs: Type.Number({ description: 'epoch ms' }),
    revisions: Type.Array(SeriesSampleSchema),
  }), { description: 'oldest first' }),
});

/** A time in a plan: ms, or null when a person decides (an indefinite pause). */
const PlanMs = (description: string) => Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: `${description}; null: a person decides` });

/** `GET /v1/services/{name}/plan`: the timeline `graylane plan` prints, and where the rollout is on it. */
export const PlanViewSchema = Type.Object({
  strategy: Type.Union([Type.Literal('canary'), Type.Literal('rolling'), Type.Literal('blueGreen')]),
  rows: Type.Array(Type.Object({
    step: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: '1-based step, null for a row that is not a step' }),
    description: Type.String(),
    canaryWeight: Type.Number({ minimum: 0, maximum: 100 }),
    stableWeight: Type.Number({ minimum: 0, maximum: 100 }),
    earliestFinishMs: PlanMs('soonest time from the start when this row is done'),
    latestFinishMs: PlanMs('latest time from the start when this row is done'),
    worstCaseRollbackMs: PlanMs('worst time from a failure at this row to all traffic on stable'),
  })),
  earliestFinishMs: PlanMs('soonest finish from the start'),
  latestFinishMs: PlanMs('latest finish from the start'),
  worstCaseRollbackMs: PlanMs('worst time from a failure to all traffic on stable'),
  rollbackNote: Type.String(),
  notes: Type.Array(Type.String()),
  remaining: Type.Optional(Type.Object({
    earliestMs: PlanMs('soonest time left from the start of the current step'),
    latestMs: PlanMs('latest time left from the start of the current step'),
  }, { description: 'of a rollout in progress' })),
});

/** See {@link SessionSchema}. */
export type SessionView = Static<typeof SessionSchema>;
/** See {@link SeriesSchema}. */
export type SeriesView = Static<typeof SeriesSchema>;
/** See {@link SeriesSampleSchema}. */
export type SeriesSample = Static<typeof SeriesSampleSchema>;
/** See {@link PlanViewSchema}. */
export type PlanView = Static<typeof PlanViewSchema>;

/** The cookie holding the console's session id (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'graylane-session';
/** The header carrying the session's CSRF token on every change. */
export const CSRF_HEADER = 'x-graylane-csrf';
