/**
 * The one operation vocabulary of the CLI, the API and the console: what a person can ask of a
 * rollout or a release, and the request bodies that carry it over HTTP.
 */
import { Type, type Static } from '@sinclair/typebox';

const expectedVersion = Type.Optional(Type.Integer({ minimum: 0, description: 'the view\'s `version` the operation was decided on; 409 if the status moved on (If-Match works too)' }));

const StringMatchSchema = Type.Union([
  Type.Object({ exact: Type.String() }, { additionalProperties: false }),
  Type.Object({ prefix: Type.String() }, { additionalProperties: false }),
  Type.Object({ regex: Type.String() }, { additionalProperties: false }),
], { description: 'exactly one of exact, prefix, regex' });

/** One match of a header route (as the document schema's `setHeaderRoute.match`): a header's value, or a cookie's (graylane's extension). */
export const HeaderRouteMatchSchema = Type.Union([
  Type.Object({ headerName: Type.String({ minLength: 1 }), headerValue: StringMatchSchema }, { additionalProperties: false }),
  Type.Object({ cookieName: Type.String({ minLength: 1 }), cookieValue: StringMatchSchema }, { additionalProperties: false }),
]);

/** One match of a mirror route (as the document schema's `setMirrorRoute.match`). */
export const MirrorRouteMatchSchema = Type.Object({
  method: Type.Optional(StringMatchSchema),
  path: Type.Optional(StringMatchSchema),
  headers: Type.Optional(Type.Record(Type.String(), StringMatchSchema)),
}, { additionalProperties: false, minProperties: 1 });

const routeName = Type.String({ minLength: 1, description: 'the route\'s name (Argo\'s: listed in trafficRouting.managedRoutes where the router needs it)' });
const headerMatches = Type.Array(HeaderRouteMatchSchema, { minItems: 1, description: 'requests matching any of these go to the canary; absent: remove the route' });
const mirrorPercentage = Type.Integer({ minimum: 1, maximum: 100, description: 'percent of matching requests copied to the canary; default 100' });
const mirrorMatches = Type.Array(MirrorRouteMatchSchema, { minItems: 1, description: 'requests matching any of these are copied to the canary; absent (with no percentage): remove the route' });

/** An operation on a service (or a release), as the CLI, the API and the console name them. */
export const OperationSchema = Type.Union([
  Type.Object({ type: Type.Literal('promote'), full: Type.Optional(Type.Boolean({ description: 'skip every remaining step' })) }),
  Type.Object({ type: Type.Literal('pause') }),
  Type.Object({ type: Type.Literal('resume') }),
  Type.Object({ type: Type.Literal('abort') }),
  Type.Object({ type: Type.Literal('retry') }),
  Type.Object({ type: Type.Literal('undo'), toRevision: Type.Optional(Type.Integer({ minimum: 1, description: 'the revision number to go back to; default the previous one' })) }),
  Type.Object({ type: Type.Literal('setWeight'), percent: Type.Integer({ minimum: 0, maximum: 100, description: 'canary weight, percent' }) }),
  Type.Object({ type: Type.Literal('restart') }),
  Type.Object({ type: Type.Literal('setHeaderRoute'), name: routeName, match: Type.Optional(headerMatches) }),
  Type.Object({ type: Type.Literal('setMirrorRoute'), name: routeName, percentage: Type.Optional(mirrorPercentage), match: Type.Optional(mirrorMatches) }),
]);

/** See {@link OperationSchema}. */
export type Operation = Static<typeof OperationSchema>;

/** The names of the operations. */
export type OperationType = Operation['type'];

/** The body of an operation without arguments. */
export const PlainOperationBodySchema = Type.Object({ expectedVersion }, { additionalProperties: false });
/** The body of `promote`. */
export const PromoteBodySchema = Type.Object({ full: Type.Optional(Type.Boolean({ description: 'skip every remaining step' })), expectedVersion }, { additionalProperties: false });
/** The body of `undo`. */
export const UndoBodySchema = Type.Object({ toRevision: Type.Optional(Type.Integer({ minimum: 1, description: 'the revision number to go back to; default the previous one' })), expectedVersion }, { additionalProperties: false });
/** The body of `weight` (the console's slider). */
export const WeightBodySchema = Type.Object({ percent: Type.Integer({ minimum: 0, maximum: 100, description: 'canary weight, percent' }), expectedVersion }, { additionalProperties: false });
/** The body of `header-route`. */
export const HeaderRouteBodySchema = Type.Object({ name: routeName, match: Type.Optional(headerMatches), expectedVersion }, { additionalProperties: false });
/** The body of `mirror-route`. */
export const MirrorRouteBodySchema = Type.Object({ name: routeName, percentage: Type.Optional(mirrorPercentage), match: Type.Optional(mirrorMatches), expectedVersion }, { additionalProperties: false });
/** The body of `apply`. */
export const ApplyBodySchema = Type.Object({
  text: Type.String({ description: 'the App file\'s text' }),
  file: Type.String({ description: 'its path, for error messages' }),
  prune: Type.Optional(Type.Boolean({ description: 'remove services the file does not name (needed when its App name differs from the running one)' })),
}, { additionalProperties: false });

/** See {@link ApplyBodySchema}. */
export type ApplyBody = Static<typeof ApplyBodySchema>;

/** The operation path segments of `POST /v1/services/{name}/{operation}`, each with its body. */
export const OPERATION_PATHS = {
  promote: { body: PromoteBodySchema, summary: 'Go to the next step; {"full": true} skips all remaining steps.' },
  pause: { body: PlainOperationBodySchema, summary: 'Pause the rollout where it is.' },
  resume: { body: PlainOperationBodySchema, summary: 'Resume a paused rollout.' },
  abort: { body: PlainOperationBodySchema, summary: 'Abort: all traffic back to stable at once.' },
  retry: { body: PlainOperationBodySchema, summary: 'Retry an aborted rollout from step 1.' },
  undo: { body: UndoBodySchema, summary: 'Roll back to the previous (or the given) revision.' },
  weight: { body: WeightBodySchema, summary: 'Set the canary weight by hand (the console slider).' },
  restart: { body: PlainOperationBodySchema, summary: 'Restart the stable revision\'s instances one by one.' },
  'header-route': { body: HeaderRouteBodySchema, summary: 'Add or replace a header (or cookie) route to the canary by hand; without "match", remove it.' },
  'mirror-route': { body: MirrorRouteBodySchema, summary: 'Add or replace a mirror route (copies of matching requests to the canary) by hand; without "match", remove it.' },
} as const;

/** A path segment of {@link OPERATION_PATHS}. */
export type OperationPath = keyof typeof OPERATION_PATHS;

/** Whether `segment` names an operation endpoint. */
export function isOperationPath(segment: string): segment is OperationPath {
  return Object.hasOwn(OPERATION_PATHS, segment);
}

/** The fields of any operation body (each endpoint's schema says which it takes). */
export interface OperationBody {
  full?: boolean;
  toRevision?: number;
  percent?: number;
  name?: string;
  percentage?: number;
  match?: unknown[];
}

/** The operation a validated body of `POST …/{path}` asks for. */
export function operationOf(path: OperationPath, body: OperationBody): Operation {
  const route = (extra: object) => ({ name: body.name!, ...extra, ...(body.match === undefined ? {} : { match: body.match }) });
  switch (path) {
    case 'promote': return { type: 'promote', full: body.full === true };
    case 'undo': return body.toRevision === undefined ? { type: 'undo' } : { type: 'undo', toRevision: body.toRevision };
    case 'weight': return { type: 'setWeight', percent: body.percent! };
    // The body was validated against the endpoint's schema: its matches are the operation's.
    case 'header-route': return { type: 'setHeaderRoute', ...route({}) } as Operation;
    case 'mirror-route': return { type: 'setMirrorRoute', ...route(body.percentage === undefined ? {} : { percentage: body.percentage }) } as Operation;
    default: return { type: path };
  }
}

/** The endpoint path and body of an operation, as the client sends it. */
export function requestOf(op: Operation, version: number | undefined): { path: OperationPath; body: Record<string, unknown> } {
  const v = version === undefined ? {} : { expectedVersion: version };
  switch (op.type) {
    case 'promote': return { path: 'promote', body: { full: op.full === true, ...v } };
    case 'undo': return { path: 'undo', body: op.toRevision === undefined ? v : { toRevision: op.toRevision, ...v } };
    case 'setWeight': return { path: 'weight', body: { percent: op.percent, ...v } };
    case 'setHeaderRoute': return { path: 'header-route', body: { name: op.name, ...(op.match === undefined ? {} : { match: op.match }), ...v } };
    case 'setMirrorRoute': return { path: 'mirror-route', body: { name: op.name, ...(op.percentage === undefined ? {} : { percentage: op.percentage }), ...(op.match === undefined ? {} : { match: op.match }), ...v } };
    default: return { path: op.type, body: v };
  }
}
