/**
 * `router.yaml`: the standalone router's configuration (listen, admin, timeouts, services).
 * Problems are reported all at once, each with file, line, field and reason.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { formatPath, RouterError, type RouterIssue } from './errors.js';
import { semanticIssues } from './route-table-check.js';
import { RouterConfigSchema, schemaIssues } from './route-table-schema.js';
import type { ReleaseRoute, RouterOptions, ServiceRoute } from './types.js';

/** A loaded config: router options with the route table under `routes`. */
export type RouterConfig = RouterOptions & { routes: { services: ServiceRoute[]; releases?: ReleaseRoute[] } };

interface RawConfig {
  listen: { host: string; port: number };
  admin?: { host: string; port: number; token?: string; tokenEnv?: string; metricsWithoutToken?: boolean };
  timeouts?: RouterOptions['timeouts'];
  circuitBreaker?: RouterOptions['circuitBreaker'];
  drainTimeoutMs?: number;
  mirrorMaxConcurrent?: number;
  statsWindowSeconds?: number;
  maxRequestBodyBytes?: number;
  maxClientConnections?: number;
  trustedProxies?: string[];
  services: ServiceRoute[];
  releases?: ReleaseRoute[];
}

function locate(doc: Document, lines: LineCounter, path: (string | number)[]): { line: number; column: number } | undefined {
  let node: unknown = doc.contents;
  let range: [number, number, number] | undefined = doc.contents?.range ?? undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      range = (pair.key as Node).range ?? range;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      range = item.range ?? range;
      node = item;
    } else break;
  }
  if (!range) return undefined;
  const pos = lines.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

function fail(file: string, issues: RouterIssue[]): never {
  const text = issues.map((i) => `${file}${i.line ? `:${i.line}` : ''}: ${formatPath(i.path)}: ${i.message}`);
  throw new RouterError('INVALID_CONFIG', `invalid router config:\n  ${text.join('\n  ')}`, issues);
}

/**
 * Parses and validates config text; `file` names it in errors, `env` resolves `admin.tokenEnv`.
 * Throws `RouterError` `INVALID_CONFIG` listing every problem.
 */
export function parseRouterConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): RouterConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    fail(file, doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { path: [], message: `YAML: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col };
    }));
  }
  const value: unknown = doc.toJS();
  let issues = schemaIssues(RouterConfigSchema, value);
  const raw = value as RawConfig;
  if (issues.length === 0) {
    issues = semanticIssues(raw.releases ? { services: raw.services, releases: raw.releases } : { services: raw.services });
    if (raw.admin) {
      const { token, tokenEnv } = raw.admin;
      if ((token === undefined) === (tokenEnv === undefined)) issues.push({ path: ['admin'], message: 'needs exactly one of token, tokenEnv' });
      else if (tokenEnv !== undefined && (env[tokenEnv] ?? '').length < 16) {
        issues.push({ path: ['admin', 'tokenEnv'], message: `environment variable ${tokenEnv} must hold a token of at least 16 characters` });
      }
      if (!/^(127\.[0-9]+\.[0-9]+\.[0-9]+|::1|localhost)$/.test(raw.admin.host)) issues.push({ path: ['admin', 'host'], message: 'must be a loopback address (127.0.0.1, ::1, localhost)' });
    }
  }
  if (issues.length > 0) {
    fail(file, issues.map((i) => ({ ...i, ...locate(doc, lines, i.path) })));
  }
  const config: RouterConfig = {
    listen: raw.listen,
    routes: { services: raw.services },
  };
  if (raw.releases) config.routes.releases = raw.releases;
  if (raw.admin) {
    config.admin = {
      host: raw.admin.host,
      port: raw.admin.port,
      token: raw.admin.token ?? env[raw.admin.tokenEnv!]!,
      metricsWithoutToken: raw.admin.metricsWithoutToken ?? false,
    };
  }
  if (raw.timeouts) config.timeouts = raw.timeouts;
  if (raw.circuitBreaker) config.circuitBreaker = raw.circuitBreaker;
  if (raw.drainTimeoutMs !== undefined) config.drainTimeoutMs = raw.drainTimeoutMs;
  if (raw.mirrorMaxConcurrent !== undefined) config.mirrorMaxConcurrent = raw.mirrorMaxConcurrent;
  if (raw.statsWindowSeconds !== undefined) config.statsWindowSeconds = raw.statsWindowSeconds;
  if (raw.maxRequestBodyBytes !== undefined) config.maxRequestBodyBytes = raw.maxRequestBodyBytes;
  if (raw.maxClientConnections !== undefined) config.maxClientConnections = raw.maxClientConnections;
  if (raw.trustedProxies !== undefined) config.trustedProxies = raw.trustedProxies;
  return config;
}

/** Reads and validates a config file. */
export async function loadRouterConfig(file: string, env?: Record<string, string | undefined>): Promise<RouterConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RouterError('INVALID_CONFIG', `cannot read ${file}: ${(err as Error).message}`, [{ path: [], message: 'cannot be read' }]);
  }
  return parseRouterConfig(text, file, env);
}
