/**
 * JSON Schema (TypeBox) of route tables and of the router's YAML config, plus the checks a schema
 * cannot express (references between fields, regexes that compile, addresses that parse).
 */
import { Type, type TSchema, type TProperties, type ObjectOptions } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { formatPath, RouterError, type RouterIssue } from './errors.js';
import type { ReleaseRoute, RouteTable, StringMatch } from './types.js';

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

function ajvIssues(errors: ErrorObject[] | null | undefined): RouterIssue[] {
  const out: RouterIssue[] = [];
  for (const e of errors ?? []) {
    const path: (string | number)[] = e.instancePath
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((p) => (/^[0-9]+$/.test(p) ? Number(p) : p));
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      path.push(extra);
      message = 'unknown field';
    } else if (e.keyword === 'required') {
      path.push((e.params as { missingProperty: string }).missingProperty);
      message = 'is required';
    } else if (e.keyword === 'minLength' && path.at(-1) === 'secret') {
      message = `must be at least ${(e.params as { limit: number }).limit} characters (it signs version tokens)`;
    } else if (e.keyword === 'minProperties' || e.keyword === 'maxProperties') {
      message = e.instancePath.endsWith('Value') || /\/(method|path|headers)/.test(e.instancePath)
        ? 'needs exactly one of exact, prefix, regex'
        : message;
    }
    out.push({ path, message });
  }
  return out;
}

/** Validates `value` against `schema`, returning field-level issues (empty when valid). */
export function schemaIssues(schema: TSchema, value: unknown): RouterIssue[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate(value) ? [] : ajvIssues(validate.errors);
}

/** Parses `host:port` / `[v6]:port`; undefined when malformed. */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):([0-9]{1,5})$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

function regexIssue(match: StringMatch | undefined, path: (string | number)[]): RouterIssue[] {
  if (match?.regex === undefined) return [];
  try {
    new RegExp(match.regex);
    return [];
  } catch (err) {
    return [{ path: [...path, 'regex'], message: `is not a valid regular expression: ${(err as Error).message}` }];
  }
}

/** Checks a schema-valid table for what the schema cannot express. */
export function semanticIssues(table: RouteTable, base: (string | number)[] = []): RouterIssue[] {
  const issues: RouterIssue[] = [];
  const names = new Set<string>();
  const routes = new Set<string>();
  table.services.forEach((s, i) => {
    const at = [...base, 'services', i];
    if (names.has(s.name)) issues.push({ path: [...at, 'name'], message: `duplicates service "${s.name}"` });
    names.add(s.name);
    const key = `${s.host?.toLowerCase() ?? '*'} ${s.pathPrefix}`;
    if (routes.has(key)) issues.push({ path: [...at, 'pathPrefix'], message: `another service already routes ${s.host ?? 'any host'} ${s.pathPrefix}` });
    routes.add(key);
    const known = (rev: string | undefined, field: (string | number)[]) => {
      if (rev !== undefined && !Object.hasOwn(s.revisions, rev)) {
        issues.push({ path: [...at, ...field], message: `names revision "${rev}", which is not in revisions` });
      }
    };
    known(s.stable, ['stable']);
    known(s.canary, ['canary']);
    if (s.canary === undefined && s.canaryWeight > 0) {
      issues.push({ path: [...at, 'canaryWeight'], message: 'must be 0 when there is no canary' });
    }
    s.matches?.forEach((m, j) => {
      known(m.revision, ['matches', j, 'revision']);
      m.match.forEach((c, k) => {
        const cat = [...at, 'matches', j, 'match', k];
        const header = c.headerName !== undefined || c.headerValue !== undefined;
        const cookie = c.cookieName !== undefined || c.cookieValue !== undefined;
        if (header && cookie) issues.push({ path: cat, message: 'has both a header and a cookie condition; use two conditions' });
        if (c.headerValue && c.headerName === undefined) issues.push({ path: [...cat, 'headerName'], message: 'is required with headerValue' });
        if (c.cookieValue && c.cookieName === undefined) issues.push({ path: [...cat, 'cookieName'], message: 'is required with cookieValue' });
        issues.push(...regexIssue(c.headerValue, [...cat, 'headerValue']), ...regexIssue(c.cookieValue, [...cat, 'cookieValue']));
      });
    });
    if (s.mirror) {
      known(s.mirror.revision, ['mirror', 'revision']);
      s.mirror.match?.forEach((m, j) => {
        const mat = [...at, 'mirror', 'match', j];
        issues.push(...regexIssue(m.method, [...mat, 'method']), ...regexIssue(m.path, [...mat, 'path']));
        for (const [h, v] of Object.entries(m.headers ?? {})) issues.push(...regexIssue(v, [...mat, 'headers', h]));
      });
    }
    for (const [rev, r] of Object.entries(s.revisions)) {
      const ids = new Set<string>();
      r.instances.forEach((inst, j) => {
        const iat = [...at, 'revisions', rev, 'instances', j];
        if (ids.has(inst.id)) issues.push({ path: [...iat, 'id'], message: `duplicates instance "${inst.id}"` });
        ids.add(inst.id);
        if (!parseAddress(inst.address)) issues.push({ path: [...iat, 'address'], message: `"${inst.address}" is not host:port` });
      });
    }
  });
  issues.push(...releaseIssues(table, base));
  return issues;
}

// Headers the router reads or rewrites itself; a release token there would be clobbered.
const RESERVED_HEADERS = new Set(['cookie', 'set-cookie', 'host', 'connection', 'content-length', 'transfer-encoding', 'upgrade', 'forwarded', 'x-forwarded-for']);

/** Checks releases against the services of a schema-valid table. */
function releaseIssues(table: RouteTable, base: (string | number)[]): RouterIssue[] {
  const issues: RouterIssue[] = [];
  const services = new Map(table.services.map((s) => [s.name, s]));
  const names = new Set<string>();
  const memberOf = new Map<string, string>();
  const releases = table.releases ?? [];
  releases.forEach((r, i) => {
    const at = [...base, 'releases', i];
    if (names.has(r.name)) issues.push({ path: [...at, 'name'], message: `duplicates release "${r.name}"` });
    names.add(r.name);
    r.services.forEach((member, j) => {
      if (!services.has(member)) issues.push({ path: [...at, 'services', j], message: `names service "${member}", which is not in services` });
      const other = memberOf.get(member);
      if (other !== undefined) {
        issues.push({ path: [...at, 'services', j], message: other === r.name ? `lists service "${member}" twice` : `service "${member}" is already a member of release "${other}"` });
      }
      memberOf.set(member, r.name);
    });
    if (r.assetPattern !== undefined) issues.push(...regexIssue({ regex: r.assetPattern }, at).map((x) => ({ ...x, path: [...at, 'assetPattern'] })));
    if (RESERVED_HEADERS.has(r.header.toLowerCase())) issues.push({ path: [...at, 'header'], message: `"${r.header}" is a header the router handles itself; choose another name` });
  });
  // Cookies and tokens are per host: two releases reachable on one host must not share names.
  const hostsOf = (r: ReleaseRoute) => new Set(r.services.map((m) => services.get(m)?.host?.toLowerCase() ?? '*'));
  const meet = (a: Set<string>, b: Set<string>) => a.has('*') || b.has('*') || [...a].some((h) => b.has(h));
  for (let i = 0; i < releases.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, b] = [releases[j]!, releases[i]!];
      if (!meet(hostsOf(a), hostsOf(b))) continue;
      if (a.cookie === b.cookie) issues.push({ path: [...base, 'releases', i, 'cookie'], message: `is also the cookie of release "${a.name}" on the same host; each release needs its own` });
      if (a.header.toLowerCase() === b.header.toLowerCase()) issues.push({ path: [...base, 'releases', i, 'header'], message: `is also the header of release "${a.name}" on the same host; each release needs its own` });
    }
  }
  return issues;
}

/** Throws a {@link RouterError} `INVALID_ROUTE_TABLE` unless `value` is a valid route table. */
export function assertRouteTable(value: unknown): asserts value is RouteTable {
  let issues = schemaIssues(RouteTableSchema, value);
  if (issues.length === 0) issues = semanticIssues(value as RouteTable);
  if (issues.length > 0) {
    const lines = issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new RouterError('INVALID_ROUTE_TABLE', `invalid route table: ${lines.join('; ')}`, issues);
  }
}
