/**
 * Renders a route table as nginx configuration: the http-level part (maps, split_clients,
 * upstreams, servers) that either goes into a whole nginx.conf graylane runs, or into an include
 * file for an nginx the user runs. Pure: text in, text out, so every routing rule is visible in a
 * test without starting nginx.
 *
 * Per service `sN`, a request's revision is decided in nginx variables, in the router's order:
 * header/cookie matches first (`$gl_sN_match`), then the sticky cookie, then weight
 * (`split_clients` on `$request_id`, random per request); a revision without a ready instance
 * falls back to the other side at render time (`$gl_sN_rev`), and `$gl_sN_up` names the upstream.
 */
import type { MirrorMatch, RouteCondition, RouteTable, ServiceRoute, StringMatch } from '../../contract/index.js';
import { NginxRenderError } from './errors.js';
import { ROUTER_STARTING_TEXT } from '../../router-answers.js';

/** Options of {@link renderHttpConfig}. */
export interface RenderOptions {
  /** `host:port` the servers listen on. */
  listen: string;
  /** The access log file graylane reads every request back from. */
  accessLog: string;
  /** Idle keep-alive connections kept per worker and upstream; default 32. */
  upstreamKeepalive?: number;
  /**
   * Rendered before graylane gave the first table: what no service routes is answered 503
   * `router-starting` with `Retry-After`, as the built-in router does, not 404.
   */
  starting?: boolean;
}

/**
 * How nginx writes graylane's access log: through a per-worker buffer, written when full or every
 * 200 ms, so a request costs no system call of its own (one datagram per request cost a fifth of
 * nginx's throughput). `flush` needs `buffer`.
 */
export const LOG_BUFFERING = 'buffer=64k flush=200ms';
/** `keepalive_requests` of every upstream: how many requests one connection to an instance carries. */
const UPSTREAM_KEEPALIVE_REQUESTS = 100_000;
/** First field of every access log line graylane reads; lines without it are someone else's. */
export const LOG_MARK = 'gl1';

/** Characters nginx takes inside a double-quoted string without trouble, and names we emit bare. */
const SAFE_NAME = /^[A-Za-z0-9._~-]+$/;
/** Header names nginx exposes as `$http_…` (letters, digits, dashes). */
const HEADER_NAME = /^[A-Za-z0-9-]+$/;
/** Cookie names graylane may look up with a regular expression on the Cookie header. */
const COOKIE_NAME = /^[A-Za-z0-9_.-]+$/;

/** A double-quoted nginx string. */
function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Escapes a literal for a PCRE pattern. */
function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A case-sensitive map key testing a value against a route table's string matcher. */
function matchKey(m: StringMatch, path: string): string {
  if (m.exact !== undefined) return q(`~^${reEscape(m.exact)}$`);
  if (m.prefix !== undefined) return q(`~^${reEscape(m.prefix)}`);
  if (m.regex !== undefined) return q(`~${m.regex}`);
  throw new NginxRenderError('UnsupportedMatch', `${path}: a string match needs exact, prefix or regex`);
}

function checkName(kind: string, name: string, pattern: RegExp = SAFE_NAME): void {
  if (!pattern.test(name)) {
    throw new NginxRenderError('UnsupportedName', `the ${kind} name ${JSON.stringify(name)} cannot be written into an nginx configuration (letters, digits, '.', '_', '~', '-' only)`);
  }
}

/** The `$http_…` variable of a header. */
function headerVar(name: string): string {
  return `$http_${name.toLowerCase().replace(/-/g, '_')}`;
}

/** What a render produced, for the adapter: which revisions exist where. */
export interface RenderedConfig {
  /** The http-level configuration (no `http {}` around it). */
  http: string;
  /** Upstream name per `service\nrevision` that has ready instances. */
  upstreams: Map<string, string>;
}

const STARTING = [
  '    add_header Retry-After 1 always;',
  '    add_header X-Graylane-Error router-starting always;',
  '    add_header Cache-Control no-store always;',
  `    return 503 "${ROUTER_STARTING_TEXT}\\n";`,
];

/** Renders the http-level configuration of `table`; throws {@link NginxRenderError} for what nginx cannot do. */
export function renderHttpConfig(table: RouteTable, options: RenderOptions): RenderedConfig {
  if ((table.releases ?? []).length > 0) {
    throw new NginxRenderError('Unsupported', 'releases need signed version tokens and per-page pinning, which an nginx configuration cannot issue or check: use router.type builtin for an App with releases');
  }
  const keepalive = options.upstreamKeepalive ?? 32;
  const out: string[] = [];
  const upstreams = new Map<string, string>();
  out.push(
    '# Written by graylane from its route table; edits are overwritten.',
    `log_format graylane_log '${LOG_MARK}|$gl_service|$gl_revision|$gl_pick|$status|$request_time|$upstream_response_time|$gl_kind';`,
    'map "" $gl_service { default ""; }',
    'map "" $gl_revision { default ""; }',
    'map "" $gl_pick { default ""; }',
    'map "" $gl_kind { default "request"; }',
    'map $http_upgrade $gl_connection { default upgrade; "" ""; }',
  );
  const blocks: { service: ServiceRoute; index: number; location: string[] }[] = [];
  table.services.forEach((service, index) => {
    checkName('service', service.name);
    blocks.push({ service, index, location: renderService({ service, index, keepalive, accessLog: options.accessLog, out, upstreams }) });
  });
  // One server per host, each with its own services first and the host-agnostic ones after them,
  // as the router looks a request up; the default server takes every other host.
  const hosts = [...new Set(table.services.flatMap((s) => (s.host === undefined ? [] : [s.host.toLowerCase().replace(/\.$/, '')])))];
  const anyHost = blocks.filter((b) => b.service.host === undefined);
  const server = (names: string | undefined, members: typeof blocks) => {
    out.push('server {', `  listen ${options.listen}${names === undefined ? ' default_server' : ''};`);
    if (names !== undefined) out.push(`  server_name ${names} ${names}.;`);
    out.push(`  access_log ${q(options.accessLog)} graylane_log ${LOG_BUFFERING};`);
    const seen = new Set<string>();
    for (const b of members) {
      const prefix = b.service.pathPrefix.replace(/\/+$/, '') || '/';
      if (seen.has(prefix)) continue; // a host's own service wins over a host-agnostic one on the same prefix
      seen.add(prefix);
      const body = b.location.map((l) => `    ${l}`);
      if (prefix === '/') {
        out.push('  location / {', ...body, '  }');
      } else {
        out.push(`  location = ${prefix} {`, ...body, '  }', `  location ${prefix}/ {`, ...body, '  }');
      }
    }
    // No service's prefix: the router's 404, never a file from nginx's default root.
    if (!seen.has('/')) out.push('  location / {', '    default_type text/plain;', ...(options.starting === true ? STARTING : ['    add_header X-Graylane-Error no-route always;', '    return 404 "graylane: no service routes $host$request_uri\\n";']), '  }');
    for (const b of members) out.push(...mirrorLocation(b.service, b.index, upstreams, options.accessLog).map((l) => `  ${l}`));
    out.push('}');
  };
  for (const host of hosts) {
    checkName('host', host);
    server(host, [...blocks.filter((b) => b.service.host?.toLowerCase().replace(/\.$/, '') === host), ...anyHost]);
  }
  server(undefined, anyHost);
  return { http: `${out.join('\n')}\n`, upstreams };
}

/** What {@link renderService} renders one service with, and into. */
interface ServiceRender {
  service: ServiceRoute;
  index: number;
  keepalive: number;
  accessLog: string;
  /** Configuration lines, appended to. */
  out: string[];
  /** Upstream name per `service\nrevision`, added to. */
  upstreams: Map<string, string>;
}

/**
 * How a service's location sends a request on, once its revision is decided. Connections that
 * fail before anything was sent are retried on another instance, as the router does; graylane's
 * nginx is the edge, as the router is by default, so what a client claims in X-Forwarded-* is replaced.
 */
const PROXY = [
  'proxy_http_version 1.1;',
  'proxy_set_header Host $http_host;',
  'proxy_set_header Upgrade $http_upgrade;',
  'proxy_set_header Connection $gl_connection;',
  'proxy_set_header X-Forwarded-For $remote_addr;',
  'proxy_set_header X-Forwarded-Proto $scheme;',
  'proxy_next_upstream error timeout non_idempotent;',
  'proxy_next_upstream_tries 3;',
];
/** No ready instance on either side: the router's 503, marked as the router marks it. */
const NO_READY_INSTANCE = 'add_header X-Graylane-Error no-ready-instance always; add_header Retry-After 1 always; add_header Cache-Control no-store always; return 503;';

/** Renders one service's maps and upstreams into `out`; returns its location body. */
function renderService({ service, index, keepalive, accessLog, out, upstreams }: ServiceRender): string[] {
  const s = `gl_s${index}`;
  const where = `services[${index}]`;
  const names = Object.keys(service.revisions);
  names.forEach((rev) => checkName('revision', rev));
  const ready = new Map<string, string[]>();
  names.forEach((rev, j) => {
    // Sorted: the same instances render the same text in whatever order a table lists them (a
    // daemon that adopted them lists them as it found them), and the same text needs no reload.
    const addresses = service.revisions[rev]!.instances.filter((i) => i.ready && !i.draining).map((i) => i.address).sort();
    if (addresses.length === 0) return;
    const name = `${s}_r${j}`;
    ready.set(rev, addresses);
    upstreams.set(`${service.name}\n${rev}`, name);
    out.push(`upstream ${name} {`);
    if (service.balancer !== 'round-robin') out.push('  least_conn;');
    for (const a of addresses) out.push(`  server ${a} max_fails=0;`);
    // nginx's default closes an upstream connection every 1,000 requests: the app would take a new
    // connection many times a second under load, which the built-in router never makes it do.
    out.push(`  keepalive ${keepalive};`, `  keepalive_requests ${UPSTREAM_KEEPALIVE_REQUESTS};`, '}');
  });

  const canary = service.canary !== undefined && service.canary !== service.stable ? service.canary : undefined;
  const weight = canary === undefined ? 0 : service.canaryWeight;
  // A revision without a ready instance falls back to the other side, decided here because
  // readiness is known at render time: the router's rule.
  const servedBy = (r: string): string => {
    if (ready.has(r)) return r;
    const other = r !== service.stable ? service.stable : weight > 0 ? canary : undefined;
    return other !== undefined && ready.has(other) ? other : r;
  };

  if ((service.matches ?? []).length === 0 && !service.mirror && (weight <= 0 || weight >= 100)) {
    // One revision takes every request (no rollout step in progress, or its end): nothing to
    // decide per request, so no maps, no variable upstream and a log line whose names are fixed.
    // This is where a service spends most of its life, and it costs nginx no more than a
    // hand-written proxy does.
    const pick = weight >= 100 ? canary! : service.stable;
    checkName('revision', pick); // written into the log format as it is
    const revision = servedBy(pick);
    const format = `graylane_s${index}`;
    out.push(`log_format ${format} '${LOG_MARK}|${service.name}|${revision}|${pick}|$status|$request_time|$upstream_response_time|request';`);
    const upstream = upstreams.get(`${service.name}\n${revision}`);
    const location = [`access_log ${q(accessLog)} ${format} ${LOG_BUFFERING};`];
    if (upstream === undefined) location.push(NO_READY_INSTANCE);
    else location.push(`proxy_pass http://${upstream};`, ...PROXY);
    return location;
  }

  // Header and cookie routes, tried in order: one variable per condition, then the first match.
  const matchVars: string[] = [];
  (service.matches ?? []).forEach((m, k) => {
    checkName('revision', m.revision);
    const condVars = m.match.map((c, n) => conditionVar(c, `${s}_m${k}c${n}`, `${where}.matches[${k}].match[${n}]`, out));
    const v = `$${s}_m${k}`;
    out.push(`map "${condVars.join('')}" ${v} { "${'1'.repeat(condVars.length)}" 1; default 0; }`);
    matchVars.push(v);
  });
  const matchVar = `$${s}_match`;
  out.push(`map "${matchVars.join('')}" ${matchVar} {`);
  (service.matches ?? []).forEach((m, k) => out.push(`  "~^${'0'.repeat(k)}1" ${q(m.revision)};`));
  out.push('  default "";', '}');

  // Weight, with the sticky cookie keeping a client on the side it was assigned.
  const byWeight = `$${s}_w`;
  if (weight <= 0 || weight >= 100) {
    out.push(`map "" ${byWeight} { default ${q(weight >= 100 ? canary! : service.stable)}; }`);
  } else {
    out.push(`split_clients "\${request_id}" ${byWeight} {`, `  ${+weight.toFixed(2)}% ${q(canary!)};`, `  * ${q(service.stable)};`, '}');
  }
  const sticky = service.stickyCookie !== undefined && canary !== undefined && weight > 0 && weight < 100 ? service.stickyCookie : undefined;
  const bySticky = `$${s}_bw`;
  const setCookie = `$${s}_setcookie`;
  if (sticky !== undefined) {
    checkName('cookie', sticky, COOKIE_NAME);
    const value = `$${s}_ck`;
    out.push(`map $http_cookie ${value} { ${q(`~(?:^|;\\s*)${reEscape(sticky)}=(?<${s}_ckv>[^;]*)`)} $${s}_ckv; default ""; }`);
    out.push(`map ${value} ${bySticky} { ${q(service.stable)} ${q(service.stable)}; ${q(canary!)} ${q(canary!)}; default ${byWeight}; }`);
    const assign = `$${s}_assign`;
    out.push(`map ${value} ${assign} { ${q(service.stable)} ""; ${q(canary!)} ""; default ${q(`${sticky}=$${s}_rev; Path=/; HttpOnly; SameSite=Lax`)}; }`);
    out.push(`map ${matchVar} ${setCookie} { "" ${assign}; default ""; }`);
  } else {
    out.push(`map "" ${bySticky} { default ${byWeight}; }`);
  }
  const pick = `$${s}_pick`;
  out.push(`map ${matchVar} ${pick} { "" ${bySticky}; default ${matchVar}; }`);

  const rev = `$${s}_rev`;
  out.push(`map ${pick} ${rev} {`);
  for (const r of new Set([...names, service.stable, ...(canary ? [canary] : [])])) out.push(`  ${q(r)} ${q(servedBy(r))};`);
  out.push(`  default ${pick};`, '}');
  const up = `$${s}_up`;
  out.push(`map ${rev} ${up} {`);
  for (const [r] of ready) out.push(`  ${q(r)} ${upstreams.get(`${service.name}\n${r}`)!};`);
  out.push('  default "";', '}');

  if (service.mirror) {
    mirrorMaps(service, index, out);
    out.push(`log_format graylane_mirror_${index} '${LOG_MARK}|${service.name}|${service.mirror.revision}|${service.mirror.revision}|$status|$request_time|$upstream_response_time|mirror';`);
  }

  const location = [
    `set $gl_service ${q(service.name)};`,
    `set $gl_pick ${pick};`,
    `set $gl_revision ${rev};`,
  ];
  if (service.mirror) {
    location.push(`set $gl_mirror_go $${s}_mirror;`, `mirror /_graylane_mirror_${index};`);
  }
  location.push(`if (${up} = "") { ${NO_READY_INSTANCE} }`);
  if (sticky !== undefined) location.push(`add_header Set-Cookie ${setCookie};`);
  location.push(`proxy_pass http://${up};`, ...PROXY);
  return location;
}

/** One header or cookie condition as a variable that is `1` when it holds, else `0`. */
function conditionVar(c: RouteCondition, name: string, path: string, out: string[]): string {
  const v = `$${name}`;
  if (c.headerName !== undefined) {
    checkName('header', c.headerName, HEADER_NAME);
    const key = c.headerValue ? matchKey(c.headerValue, `${path}.headerValue`) : '"~."';
    out.push(`map ${headerVar(c.headerName)} ${v} { ${key} 1; default 0; }`);
    return v;
  }
  if (c.cookieName !== undefined) {
    checkName('cookie', c.cookieName, COOKIE_NAME);
    const present = `(?:^|;\\s*)${reEscape(c.cookieName)}=`;
    if (!c.cookieValue) {
      out.push(`map $http_cookie ${v} { ${q(`~${present}`)} 1; default 0; }`);
      return v;
    }
    const value = `$${name}_v`;
    out.push(`map $http_cookie ${value} { ${q(`~${present}(?<${name}_cv>[^;]*)`)} $${name}_cv; default ""; }`);
    out.push(`map ${value} ${v} { ${matchKey(c.cookieValue, `${path}.cookieValue`)} 1; default 0; }`);
    return v;
  }
  throw new NginxRenderError('UnsupportedMatch', `${path}: a condition needs headerName or cookieName`);
}

/**
 * Whether a request is copied: a share by `split_clients`, any of the matches, and never to the
 * revision serving it. Decided in the main request and read by the mirror subrequest, which shares
 * the main request's variables.
 */
function mirrorMaps(service: ServiceRoute, index: number, out: string[]): void {
  const m = service.mirror!;
  const s = `gl_s${index}`;
  checkName('revision', m.revision);
  const share = `$${s}_mshare`;
  if (m.percentage >= 100) out.push(`map "" ${share} { default 1; }`);
  else if (m.percentage <= 0) out.push(`map "" ${share} { default 0; }`);
  else out.push(`split_clients "m\${request_id}" ${share} { ${+m.percentage.toFixed(2)}% 1; * 0; }`);
  const anyVars = (m.match ?? []).map((mm, k) => mirrorMatchVar(mm, `${s}_mm${k}`, `services[${index}].mirror.match[${k}]`, out));
  const matched = `$${s}_mmatch`;
  if (anyVars.length === 0) out.push(`map "" ${matched} { default 1; }`);
  else out.push(`map "${anyVars.join('')}" ${matched} { "~1" 1; default 0; }`);
  const notServing = `$${s}_mother`;
  out.push(`map $${s}_rev ${notServing} { ${q(m.revision)} 0; default 1; }`);
  out.push(`map "${share}${matched}${notServing}" $${s}_mirror { "111" 1; default 0; }`);
}

/** One mirror match (all its fields) as a variable that is `1` when it holds. */
function mirrorMatchVar(m: MirrorMatch, name: string, path: string, out: string[]): string {
  const parts: string[] = [];
  if (m.method) {
    out.push(`map $request_method $${name}_me { ${matchKey(m.method, `${path}.method`)} 1; default 0; }`);
    parts.push(`$${name}_me`);
  }
  if (m.path) {
    // The path without the query string, as the router tests it; $uri would be normalised.
    out.push(`map $request_uri $${name}_p { ${q(`~^(?<${name}_pv>[^?]*)`)} $${name}_pv; }`);
    out.push(`map $${name}_p $${name}_pa { ${matchKey(m.path, `${path}.path`)} 1; default 0; }`);
    parts.push(`$${name}_pa`);
  }
  Object.entries(m.headers ?? {}).forEach(([header, match], n) => {
    checkName('header', header, HEADER_NAME);
    out.push(`map ${headerVar(header)} $${name}_h${n} { ${matchKey(match, `${path}.headers.${header}`)} 1; default 0; }`);
    parts.push(`$${name}_h${n}`);
  });
  if (parts.length === 0) {
    out.push(`map "" $${name} { default 1; }`);
  } else {
    out.push(`map "${parts.join('')}" $${name} { "${'1'.repeat(parts.length)}" 1; default 0; }`);
  }
  return `$${name}`;
}

/** The internal location a service's mirror subrequests go to (none without a mirror). */
function mirrorLocation(service: ServiceRoute, index: number, upstreams: Map<string, string>, accessLog: string): string[] {
  const m = service.mirror;
  if (!m) return [];
  const up = upstreams.get(`${service.name}\n${m.revision}`);
  const lines = [`location = /_graylane_mirror_${index} {`, '  internal;'];
  if (up === undefined) {
    lines.push('  return 204;', '}');
    return lines;
  }
  lines.push(
    '  if ($gl_mirror_go != 1) { return 204; }',
    // Its own log line: the subrequest shares the client request's variables, so setting them here would relabel that one.
    '  log_subrequest on;',
    `  access_log ${q(accessLog)} graylane_mirror_${index} ${LOG_BUFFERING};`,
    `  proxy_pass http://${up}$request_uri;`,
    '  proxy_http_version 1.1;',
    '  proxy_set_header Host $http_host;',
    '  proxy_set_header Connection "";',
    '}',
  );
  return lines;
}

/** Options of {@link renderMainConfig}. */
export interface MainConfigOptions {
  /** The nginx prefix directory (pid, temp paths, error log). */
  prefixDir: string;
  /** `worker_processes`: a count, or `auto`. */
  workers: number | 'auto';
  /** `worker_priority` (a nice value), when set. */
  workerPriority?: number | undefined;
  /** `user`: who nginx's workers run as when it starts as root; absent: nginx's default (nobody). */
  workerUser?: string | undefined;
  /** How long old workers get to finish requests after a reload, ms. */
  workerShutdownTimeoutMs: number;
  /** File holding the http-level part, included inside `http {}`. */
  httpInclude: string;
}

/** The whole nginx.conf of an nginx graylane runs itself (`daemon off`, master and workers). */
export function renderMainConfig(options: MainConfigOptions): string {
  const d = options.prefixDir;
  return [
    '# Written by graylane; edits are overwritten.',
    'daemon off;',
    'master_process on;',
    `worker_processes ${options.workers};`,
    ...(options.workerPriority === undefined ? [] : [`worker_priority ${options.workerPriority};`]),
    ...(options.workerUser === undefined ? [] : [`user ${options.workerUser};`]),
    `worker_shutdown_timeout ${Math.max(1, Math.ceil(options.workerShutdownTimeoutMs / 1000))}s;`,
    `pid ${d}/nginx.pid;`,
    `error_log ${d}/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    `  client_body_temp_path ${d}/body;`,
    `  proxy_temp_path ${d}/proxy;`,
    `  fastcgi_temp_path ${d}/fastcgi;`,
    `  uwsgi_temp_path ${d}/uwsgi;`,
    `  scgi_temp_path ${d}/scgi;`,
    '  keepalive_requests 100000;',
    '  server_tokens off;',
    `  include ${options.httpInclude};`,
    '}',
    '',
  ].join('\n');
}
