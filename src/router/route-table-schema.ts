/**
 * JSON Schema (TypeBox) of route tables and of the router's YAML config. The data plane does not
 * load this module (TypeBox and Ajv cost each router process megabytes): it checks tables with the
 * validator generated from `RouteTableSchema` (`npm run gen:route-table`), see route-table-check.ts.
 */
import { Type, type TSchema, type TProperties, type ObjectOptions } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import type { RouterIssue } from './errors.js';
import { validatorIssues } from './validator-issues.js';

const Closed = <T extends TProperties>(properties: T, options: ObjectOptions = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options });

const Name = Type.String({ minLength: 1, maxLength: 253 });

const StringMatchSchema = Closed(
  { exact: Type.Optional(Type.String()), prefix: Type.Optional(Type.String()), regex: Type.Optional(Type.String()) },
  { minProperties: 1, maxProperties: 1 },
);

const RouteConditionSchema = Closed(
  {
    headerName: Type.Optional(Type.String({ minLength: 1 })),
    headerValue: Type.Optional(StringMatchSchema),
    cookieName: Type.Optional(Type.String({ minLength: 1 })),
    cookieValue: Type.Optional(StringMatchSchema),
  },
  { minProperties: 1 },
);

const InstanceSchema = Closed({
  id: Name,
  address: Type.String({ minLength: 3 }),
  ready: Type.Boolean(),
  draining: Type.Optional(Type.Boolean()),
  lastResort: Type.Optional(Type.Boolean()),
});

const ServiceSchema = Closed({
  name: Name,
  host: Type.Optional(Type.String({ minLength: 1 })),
  pathPrefix: Type.String({ pattern: '^/' }),
  stable: Name,
  canary: Type.Optional(Name),
  revisions: Type.Record(Type.String({ minLength: 1 }), Closed({ instances: Type.Array(InstanceSchema) })),
  canaryWeight: Type.Integer({ minimum: 0, maximum: 100 }),
  matches: Type.Optional(Type.Array(Closed({ match: Type.Array(RouteConditionSchema, { minItems: 1 }), revision: Name }))),
  mirror: Type.Optional(
    Closed({
      revision: Name,
      percentage: Type.Number({ minimum: 0, maximum: 100 }),
      match: Type.Optional(
        Type.Array(
          Closed({
            method: Type.Optional(StringMatchSchema),
            path: Type.Optional(StringMatchSchema),
            headers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), StringMatchSchema)),
          }),
        ),
      ),
    }),
  ),
  stickyCookie: Type.Optional(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" })),
  balancer: Type.Optional(Type.Union([Type.Literal('least-request'), Type.Literal('round-robin')])),
});

// Cookie- and header-safe, and free of the separators of a Cookie header.
const TOKEN_PART = '^[A-Za-z0-9._-]+$';
const HTTP_TOKEN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

const ReleaseSchema = Closed({
  name: Type.String({ minLength: 1, maxLength: 253, pattern: TOKEN_PART }),
  services: Type.Array(Name, { minItems: 1 }),
  generation: Type.String({ minLength: 1, maxLength: 253, pattern: TOKEN_PART }),
  canaryWeight: Type.Number({ minimum: 0, maximum: 100 }),
  phase: Type.Union([Type.Literal('progressing'), Type.Literal('promoted'), Type.Literal('aborted')]),
  skewUntilMs: Type.Optional(Type.Integer({ minimum: 0 })),
  abortGraceUntilMs: Type.Optional(Type.Integer({ minimum: 0 })),
  cookie: Type.String({ pattern: HTTP_TOKEN }),
  header: Type.String({ pattern: HTTP_TOKEN }),
  secret: Type.String({ minLength: 16 }),
  allowForceHeader: Type.Optional(Type.Boolean()),
  assetPattern: Type.Optional(Type.String({ minLength: 1 })),
});

/** Schema of a {@link RouteTable}. */
export const RouteTableSchema = Closed({ services: Type.Array(ServiceSchema), releases: Type.Optional(Type.Array(ReleaseSchema)) });

const Listen = Closed({ host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 0, maximum: 65535 }) });

/** Schema of `router.yaml` (see `graylane router --config`). */
export const RouterConfigSchema = Closed({
  listen: Listen,
  admin: Type.Optional(
    Closed({
      host: Type.String({ minLength: 1 }),
      port: Type.Integer({ minimum: 0, maximum: 65535 }),
      token: Type.Optional(Type.String({ minLength: 16 })),
      tokenEnv: Type.Optional(Type.String({ minLength: 1 })),
      metricsWithoutToken: Type.Optional(Type.Boolean()),
    }),
  ),
  timeouts: Type.Optional(
    Closed({
      connectMs: Type.Optional(Type.Integer({ minimum: 1 })),
      responseHeaderMs: Type.Optional(Type.Integer({ minimum: 1 })),
      idleMs: Type.Optional(Type.Integer({ minimum: 1 })),
      clientHeaderMs: Type.Optional(Type.Integer({ minimum: 1 })),
      clientBodyMs: Type.Optional(Type.Integer({ minimum: 1 })),
      sendMs: Type.Optional(Type.Integer({ minimum: 1 })),
      tunnelIdleMs: Type.Optional(Type.Integer({ minimum: 1 })),
    }),
  ),
  maxRequestBodyBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  maxClientConnections: Type.Optional(Type.Integer({ minimum: 0 })),
  trustedProxies: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  circuitBreaker: Type.Optional(
    Closed({
      maxConcurrentRequests: Type.Optional(Type.Integer({ minimum: 1 })),
      maxPendingRequests: Type.Optional(Type.Integer({ minimum: 0 })),
      consecutiveErrors: Type.Optional(Type.Integer({ minimum: 1 })),
      baseEjectionMs: Type.Optional(Type.Integer({ minimum: 1 })),
      maxEjectionMs: Type.Optional(Type.Integer({ minimum: 1 })),
      probePath: Type.Optional(Type.String({ pattern: '^/' })),
    }),
  ),
  drainTimeoutMs: Type.Optional(Type.Integer({ minimum: 0 })),
  mirrorMaxConcurrent: Type.Optional(Type.Integer({ minimum: 0 })),
  statsWindowSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 3600 })),
  services: Type.Array(ServiceSchema),
  releases: Type.Optional(Type.Array(ReleaseSchema)),
});

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<TSchema, ValidateFunction>();

/** Validates `value` against `schema`, returning field-level issues (empty when valid). */
export function schemaIssues(schema: TSchema, value: unknown): RouterIssue[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate(value) ? [] : validatorIssues(validate.errors);
}
