/**
 * Route table checks for the data plane: the JSON Schema check by the validator generated from
 * `RouteTableSchema` at development time (TypeBox and Ajv stay out of the router's processes,
 * megabytes each), and the checks a schema cannot express (references between fields, regexes
 * that compile, addresses that parse). `route-table-validator.test.ts` fails when the generated
 * validator no longer matches the schema.
 */
import type { ErrorObject } from 'ajv';
import { formatPath, RouterError, type RouterIssue } from './errors.js';
import { validatorIssues } from './validator-issues.js';
import { validate as validateRouteTableSchema } from './route-table-validate.generated.js';
import type { ReleaseRoute, RouteTable, StringMatch } from './types.js';

type GeneratedValidator = ((value: unknown) => boolean) & { errors?: ErrorObject[] | null };
const validateTableSchema = validateRouteTableSchema as unknown as GeneratedValidator;

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
  let issues = validateTableSchema(value) ? [] : validatorIssues(validateTableSchema.errors);
  if (issues.length === 0) issues = semanticIssues(value as RouteTable);
  if (issues.length > 0) {
    const lines = issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new RouterError('INVALID_ROUTE_TABLE', `invalid route table: ${lines.join('; ')}`, issues);
  }
}
