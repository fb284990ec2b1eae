/**
 * A population of simulated browser users: each page load fetches `/`, then the assets the HTML
 * names (as a browser would, in parallel), then calls the API a few times, sending and keeping
 * the user's cookies (so a router's release-pinning cookie is honoured like a real browser's).
 * Page loads arrive at a fixed rate (open model) and are shared out round-robin over the users,
 * so every user comes back with their cookies. Each user is one browser tab: a page load of a user
 * whose previous page is still loading leaves that page, whose remaining requests are not made.
 *
 * What it catches beyond failed requests is version skew, the errors users see during an
 * update of a separated frontend and backend:
 * - asset 404s: the page names `/assets/app.<hash>.js` and the instance asked does not have it;
 * - version mismatches: an API answer from another version than the page's (`x-served-by`);
 * - contract errors: the API answer lacks a field the page declares it needs
 *   (`<meta name="api-requires" content="price.currency">`): the page would break.
 */
import { Agent } from 'undici';
import { CookieJar } from './cookie-jar.js';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
import { classifyRequestError, emptyFailureCounts, type FailureReason } from './request-failure.js';
import { increment, parseServedBy, SERVED_BY_HEADER } from './served-by.js';

/** The API calls a page makes, in order, repeated up to `apiCallsPerPage`. */
export const PAGE_API_CALLS: readonly string[] = ['/api/products', '/api/version', '/api/cart'];

/** How many users, how fast, for how long. */
export interface SimulatedUsersOptions {
  /** Where the app is, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Page loads started per second (> 0). */
  pageLoadsPerSecond: number;
  /** How long to start page loads for. Either this or `signal` is required; both may be given. */
  durationMs?: number;
  /** Stops starting page loads; the ones under way finish and are counted. */
  signal?: AbortSignal;
  /** Distinct users (cookie jars) the page loads are shared over; default 20. */
  users?: number;
  /** Page loads under way at once; a page load due beyond this is skipped and counted; default 32. */
  maxConcurrentPageLoads?: number;
  /** API calls per page load; default 3 (products, version, cart). */
  apiCallsPerPage?: number;
  /** A request not answered after this long is a timeout failure; default 5000. */
  timeoutMs?: number;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Called after each page load with what it saw. */
  onResult?: (result: PageLoadResult) => void;
}

/** What one page load saw. */
export interface PageLoadResult {
  /** Which user (0-based). */
  user: number;
  /** The page's version (from its HTML, else from `x-served-by`), when the page loaded. */
  pageVersion?: string;
  /** Requests made (page, assets, API). */
  requests: number;
  /** Requests that failed: connection errors, timeouts, 5xx. */
  failedRequests: number;
  assetNotFound: number;
  versionMismatches: number;
  contractErrors: number;
  /** True when nothing at all went wrong. */
  ok: boolean;
  /** One line per problem, for logs. */
  problems: string[];
  /** From the page request to the last API answer, ms. */
  durationMs: number;
  /** The user navigated to a newer page before this one finished; its remaining requests were not made. */
  left: boolean;
}

/** The whole run. */
export interface SimulatedUsersReport {
  /** From the first page load to the last answer, ms. */
  elapsedMs: number;
  /** Page loads started. */
  pageLoads: number;
  /** Page loads with at least one problem of any kind. */
  pageLoadsWithProblems: number;
  /** Page loads due while `maxConcurrentPageLoads` were under way, not started. */
  skippedPageLoads: number;
  /**
   * Page loads their user left for a newer one before they finished: as a browser drops a page it
   * navigates away from, their remaining asset and API requests were not made.
   */
  leftPageLoads: number;
  requests: number;
  /** Connection errors, timeouts and 5xx answers. */
  failedRequests: number;
  failures: Record<FailureReason, number>;
  /** Assets named by a page that answered 404: skew errors. */
  assetNotFound: number;
  /** API answers from another version than the page's. */
  versionMismatches: number;
  /** API answers missing a field the page needs. */
  contractErrors: number;
  /** Other 4xx answers (not skew, not failures), e.g. a 404 on an API route. */
  otherClientErrors: number;
  /** Answers by `x-served-by` (`web@v1`, `api@v2`). */
  servedBy: Record<string, number>;
  /** Page loads by the page's version. */
  pageVersions: Record<string, number>;
  /** Per request. */
  latencyMs: LatencySummary;
  /** Per whole page load (page, assets and API calls). */
  pageLoadMs: LatencySummary;
}

/** Options that cannot produce a meaningful run. */
export class InvalidSimulatedUsersOptionsError extends Error {
  readonly code = 'INVALID_SIMULATED_USERS_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSimulatedUsersOptionsError';
  }
}

/** Asset URLs a page names in `src=` and `href=` attributes (same-origin, under /assets/). */
export function parseAssetUrls(html: string): string[] {
  const urls = new Set<string>();
  for (const m of html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)) {
    const ref = m[1] ?? '';
    if (ref.startsWith('/assets/')) urls.add(ref);
  }
  return [...urls];
}

/** The content of `<meta name="NAME" content="...">`, if present. */
export function parseMeta(html: string, name: string): string | undefined {
  for (const m of html.matchAll(/<meta\s+([^>]*)>/gi)) {
    const attrs = m[1] ?? '';
    const n = /\bname\s*=\s*["']([^"']*)["']/i.exec(attrs)?.[1];
    if (n === name) return /\bcontent\s*=\s*["']([^"']*)["']/i.exec(attrs)?.[1];
  }
  return undefined;
}

/** The required dotted paths (`price.currency`) missing from any product of a products answer. */
export function missingProductFields(body: unknown, required: readonly string[]): string[] {
  if (required.length === 0) return [];
  const products = (body as { products?: unknown } | null)?.products;
  if (!Array.isArray(products)) return ['products'];
  const missing = new Set<string>();
  for (const product of products) {
    for (const path of required) {
      let v: unknown = product;
      for (const key of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
      if (v === undefined || v === null) missing.add(path);
    }
  }
  return [...missing];
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Runs the user population; resolves when the run is over and every page load has finished. */
export async function runSimulatedUsers(options: SimulatedUsersOptions): Promise<SimulatedUsersReport> {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new InvalidSimulatedUsersOptionsError(`baseUrl: "${options.baseUrl}" is not an absolute URL (e.g. http://127.0.0.1:8080)`);
  }
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) {
      throw new InvalidSimulatedUsersOptionsError(`${name}: must be a number > 0, got ${String(v)}`);
    }
  };
  if (options.pageLoadsPerSecond === undefined) throw new InvalidSimulatedUsersOptionsError('pageLoadsPerSecond: required');
  positive('pageLoadsPerSecond', options.pageLoadsPerSecond);
  positive('durationMs', options.durationMs);
  positive('users', options.users);
  positive('maxConcurrentPageLoads', options.maxConcurrentPageLoads);
  positive('timeoutMs', options.timeoutMs);
  if (options.apiCallsPerPage !== undefined && !(Number.isInteger(options.apiCallsPerPage) && options.apiCallsPerPage >= 0)) {
    throw new InvalidSimulatedUsersOptionsError(`apiCallsPerPage: must be an integer >= 0, got ${options.apiCallsPerPage}`);
  }
  if (options.durationMs === undefined && options.signal === undefined) {
    throw new InvalidSimulatedUsersOptionsError('durationMs or signal: one is required, or the run would never end');
  }

  const timeoutMs = options.timeoutMs ?? 5000;
  const maxConcurrent = Math.floor(options.maxConcurrentPageLoads ?? 32);
  const apiCalls = options.apiCallsPerPage ?? 3;
  const jars = Array.from({ length: Math.floor(options.users ?? 20) }, () => new CookieJar());
  /** Page loads started per user: a page whose number is no longer its user's latest was left. */
  const navigations = jars.map(() => 0);
  const extraHeaders = options.headers ?? {};
  // A browser opens about six connections per origin; the pool is shared by all users here.
  const agent = new Agent({ keepAliveTimeout: 30_000, connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  const report: SimulatedUsersReport = {
    elapsedMs: 0, pageLoads: 0, pageLoadsWithProblems: 0, skippedPageLoads: 0, leftPageLoads: 0, requests: 0, failedRequests: 0,
    failures: emptyFailureCounts(), assetNotFound: 0, versionMismatches: 0, contractErrors: 0, otherClientErrors: 0,
    servedBy: {}, pageVersions: {}, latencyMs: new LatencyHistogram().summary(), pageLoadMs: new LatencyHistogram().summary(),
  };
  const requestLatency = new LatencyHistogram();
  // A throwing onResult must not crash the run half-way; it is rethrown once the run is over.
  let callbackError: unknown;
  const pageLatency = new LatencyHistogram();

  /** One request as the user's browser makes it; a failure is counted and returns undefined. */
  const get = async (jar: CookieJar, path: string, result: PageLoadResult, kind: 'page' | 'asset' | 'api' = 'api'): Promise<Answer | undefined> => {
    const url = new URL(path, base);
    // The fetch metadata a browser sends: a page load is a navigation, the rest are subresources.
    const headers: Record<string, string> = kind === 'page'
      ? { ...extraHeaders, accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
      : { ...extraHeaders, accept: kind === 'api' ? 'application/json' : '*/*', 'sec-fetch-mode': kind === 'api' ? 'cors' : 'no-cors', 'sec-fetch-dest': kind === 'api' ? 'empty' : 'script' };
    const cookie = jar.cookieHeader(url);
    if (cookie !== undefined) headers.cookie = cookie;
    const startedAt = performance.now();
    result.requests += 1;
    report.requests += 1;
    try {
      const res = await agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers });
      const body = await res.body.text();
      requestLatency.record(performance.now() - startedAt);
      jar.setCookies(res.headers['set-cookie'], url);
      const servedBy = res.headers[SERVED_BY_HEADER];
      if (typeof servedBy === 'string') increment(report.servedBy, servedBy);
      if (res.statusCode >= 500) {
        result.failedRequests += 1;
        report.failedRequests += 1;
        report.failures.http5xx += 1;
        result.problems.push(`${path}: ${res.statusCode} from ${String(servedBy)}`);
        return undefined;
      }
      return { status: res.statusCode, headers: res.headers, body };
    } catch (err) {
      const reason = classifyRequestError(err);
      result.failedRequests += 1;
      report.failedRequests += 1;
      report.failures[reason] += 1;
      result.problems.push(`${path}: ${reason} (${err instanceof Error ? err.message : String(err)})`);
      return undefined;
    }
  };

  const loadPage = async (user: number): Promise<PageLoadResult> => {
    const jar = jars[user] ?? new CookieJar();
    const startedAt = performance.now();
    const navigation = (navigations[user] = (navigations[user] ?? 0) + 1);
    const result: PageLoadResult = {
      user, requests: 0, failedRequests: 0, assetNotFound: 0, versionMismatches: 0, contractErrors: 0, ok: true, problems: [], durationMs: 0, left: false,
    };
    // A newer page of the same user means this one is gone: a browser makes none of its requests.
    const stillHere = () => {
      if (navigations[user] !== navigation) result.left = true;
      return !result.left;
    };
    const page = await get(jar, '/', result, 'page');
    if (page !== undefined && page.status >= 400) {
      report.otherClientErrors += 1;
      result.problems.push(`/: ${page.status}`);
    } else if (page !== undefined) {
      const version = parseMeta(page.body, 'app-version') ?? parseServedBy(page.headers[SERVED_BY_HEADER])?.version;
      if (version !== undefined) result.pageVersion = version;
      const required = (parseMeta(page.body, 'api-requires') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

      await Promise.all((stillHere() ? parseAssetUrls(page.body) : []).map(async (asset) => {
        const answer = await get(jar, asset, result, 'asset');
        if (answer?.status === 404) {
          result.assetNotFound += 1;
          result.problems.push(`${asset}: 404 from ${String(answer.headers[SERVED_BY_HEADER])} for a ${version ?? '?'} page`);
        } else if (answer !== undefined && answer.status >= 400) {
          report.otherClientErrors += 1;
          result.problems.push(`${asset}: ${answer.status}`);
        }
      }));

      for (let i = 0; i < apiCalls && stillHere(); i += 1) {
        const path = PAGE_API_CALLS[i % PAGE_API_CALLS.length] ?? '/api/version';
        const answer = await get(jar, path, result);
        if (answer === undefined) continue;
        if (answer.status >= 400) {
          report.otherClientErrors += 1;
          result.problems.push(`${path}: ${answer.status}`);
          continue;
        }
        const apiVersion = parseServedBy(answer.headers[SERVED_BY_HEADER])?.version;
        if (version !== undefined && apiVersion !== undefined && apiVersion !== version) {
          result.versionMismatches += 1;
          result.problems.push(`${path}: answered by ${apiVersion} for a ${version} page`);
        }
        if (path === '/api/products' && required.length > 0) {
          let body: unknown;
          try {
            body = JSON.parse(answer.body);
          } catch {
            body = null;
          }
          const missing = missingProductFields(body, required);
          if (missing.length > 0) {
            result.contractErrors += 1;
            result.problems.push(`${path}: missing ${missing.join(', ')} needed by the ${version ?? '?'} page`);
          }
        }
      }
    }
    result.durationMs = performance.now() - startedAt;
    result.ok = result.problems.length === 0;
    pageLatency.record(result.durationMs);
    report.assetNotFound += result.assetNotFound;
    report.versionMismatches += result.versionMismatches;
    report.contractErrors += result.contractErrors;
    if (!result.ok) report.pageLoadsWithProblems += 1;
    if (result.left) report.leftPageLoads += 1;
    if (result.pageVersion !== undefined) increment(report.pageVersions, result.pageVersion);
    try {
      options.onResult?.(result);
    } catch (err) {
      callbackError ??= err;
    }
    return result;
  };

  const t0 = performance.now();
  const intervalMs = 1000 / options.pageLoadsPerSecond;
  const totalDue = options.durationMs === undefined ? Infinity : Math.max(1, Math.floor((options.durationMs * options.pageLoadsPerSecond) / 1000));
  const underWay = new Set<Promise<PageLoadResult>>();
  let scheduled = 0;

  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', finish);
      resolve();
    };
    const tick = () => {
      const elapsed = performance.now() - t0;
      const due = Math.min(totalDue, Math.floor(elapsed / intervalMs) + 1);
      while (scheduled < due) {
        const user = scheduled % jars.length;
        scheduled += 1;
        if (underWay.size >= maxConcurrent) {
          report.skippedPageLoads += 1;
          continue;
        }
        report.pageLoads += 1;
        const p = loadPage(user);
        underWay.add(p);
        void p.finally(() => underWay.delete(p));
      }
      if (scheduled >= totalDue) return finish();
      timer = setTimeout(tick, Math.max(1, scheduled * intervalMs - (performance.now() - t0)));
    };
    if (options.signal?.aborted) return finish();
    options.signal?.addEventListener('abort', finish);
    tick();
  });
  // loadPage never rejects: every request error is caught and counted.
  await Promise.all(underWay);
  await agent.close();
  if (callbackError !== undefined) throw callbackError instanceof Error ? callbackError : new Error('onResult threw a non-Error value', { cause: callbackError });

  report.elapsedMs = Math.round(performance.now() - t0);
  report.latencyMs = requestLatency.summary();
  report.pageLoadMs = pageLatency.summary();
  return report;
}
