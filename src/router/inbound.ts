/**
 * What the router checks and rewrites on a client request before routing it, as the edge: a
 * request it cannot or should not forward is refused here, for the client's fault, so no revision
 * or instance is ever charged for it (nginx answers the same way). The request target is
 * normalised once, and the normalised form is both what is matched and what is forwarded, so the
 * router and the upstream agree on which path was asked for.
 */
import type { InboundRequest } from './server/inbound-types.js';
import type { RouterAnswerReason } from './router-answers.js';

/** Why a request was refused before routing; label of `graylane_router_refused_total`. */
export type RefusalReason = Extract<RouterAnswerReason,
  | 'duplicate-host'
  | 'bad-request-target'
  | 'path-escapes-root'
  | 'body-too-large'
  | 'unsupported-transfer-coding'
  | 'header-timeout'
  | 'malformed-request'
>;

/** A refusal: the status and reason the client gets. */
export interface Refusal {
  status: 400 | 408 | 413 | 431 | 501;
  reason: RefusalReason;
  text: string;
}

/** Limits of {@link admitRequest}. */
export interface InboundOptions {
  /** Request bodies larger than this get 413; 0 means no limit. */
  maxRequestBodyBytes: number;
}

// RFC 3986 §2.3 unreserved characters: decoding them never changes what a URI means.
const UNRESERVED = /%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;

/**
 * The normalised form of an origin-form path (no query): unreserved percent-escapes decoded,
 * repeated slashes merged (as nginx's merge_slashes), `.` and `..` segments removed (RFC 3986
 * §5.2.4). Undefined when `..` climbs above the root.
 */
export function normalizePath(path: string): string | undefined {
  const decoded = path.includes('%') ? path.replace(UNRESERVED, (m) => String.fromCharCode(parseInt(m.slice(1), 16))) : path;
  const segments = decoded.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      if (last) out.push('');
    } else if (seg === '.' || seg === '') {
      // `/a/.` and `/a/` keep their trailing slash; empty segments inside are merged.
      if (last) out.push('');
    } else {
      out.push(seg);
    }
  }
  return `/${out.join('/')}`;
}

function count(raw: string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === lowerName.length && raw[i]!.toLowerCase() === lowerName) n++;
  return n;
}

/** Replaces every Host header (raw and parsed) with `host`: the authority of an absolute-form target. */
function replaceHost(req: InboundRequest, host: string): void {
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() !== 'host') kept.push(raw[i]!, raw[i + 1]!);
  kept.push('Host', host);
  raw.length = 0;
  raw.push(...kept);
  req.headers.host = host;
}

/**
 * Checks a request before routing and normalises its target in place (`req.url`, and `Host` for
 * an absolute-form target, RFC 9112 §3.2.2). Returns the refusal when the request must not be
 * forwarded, undefined when it may be routed.
 */
export function admitRequest(req: InboundRequest, options: InboundOptions): Refusal | undefined {
  const raw = req.rawHeaders;
  if (count(raw, 'host') > 1) return { status: 400, reason: 'duplicate-host', text: 'graylane: more than one Host header' };
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && te.split(',').some((c) => c.trim().toLowerCase() !== 'chunked')) {
    return { status: 501, reason: 'unsupported-transfer-coding', text: `graylane: transfer coding not supported: ${te}` };
  }
  const limit = options.maxRequestBodyBytes;
  const length = req.headers['content-length'];
  if (limit > 0 && length !== undefined && Number(length) > limit) {
    return { status: 413, reason: 'body-too-large', text: `graylane: request body of ${length} bytes exceeds the limit of ${limit} bytes` };
  }
  let target = req.url ?? '/';
  if (target === '*' && req.method === 'OPTIONS') return undefined;
  if (!target.startsWith('/')) {
    // Absolute form: the authority replaces Host.
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return { status: 400, reason: 'bad-request-target', text: 'graylane: the request target is neither a path nor an absolute URL' };
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
      return { status: 400, reason: 'bad-request-target', text: `graylane: unsupported request target scheme ${url.protocol}` };
    }
    replaceHost(req, url.host);
    const hostStart = target.indexOf('//') + 2;
    const pathStart = target.slice(hostStart).search(/[/?]/);
    target = pathStart < 0 ? '/' : target.slice(hostStart + pathStart);
    if (target.startsWith('?')) target = `/${target}`;
  }
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const normalized = normalizePath(path);
  if (normalized === undefined) return { status: 400, reason: 'path-escapes-root', text: 'graylane: the path climbs above the root' };
  const url = q < 0 ? normalized : normalized + target.slice(q);
  if (url !== req.url) req.url = url;
  return undefined;
}
