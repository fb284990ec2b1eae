/**
 * Header rewriting between client and upstream, on raw (flat) header arrays so nothing is parsed
 * twice: hop-by-hop headers dropped, `X-Forwarded-*` and `Forwarded` added.
 */
import type { InboundRequest } from './server/inbound-types.js';

// Hop-by-hop headers (RFC 9110 §7.6.1) plus `expect`, which node's server already answered.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'transfer-encoding', 'expect']);

function connectionTokens(req: InboundRequest): Set<string> | undefined {
  const c = req.headers.connection;
  if (c === undefined) return undefined;
  let out: Set<string> | undefined;
  for (const t of c.split(',')) {
    const k = t.trim().toLowerCase();
    if (k !== '' && k !== 'close' && k !== 'keep-alive') (out ??= new Set()).add(k);
  }
  return out;
}

// Requests whose peer is a configured trusted proxy: its forwarding headers are kept.
const fromTrustedProxy = new WeakSet<InboundRequest>();

/**
 * Marks a request as coming from a trusted proxy (see `RouterOptions.trustedProxies`): its
 * `X-Forwarded-*` and `Forwarded` headers are kept and appended to instead of replaced.
 */
export function markFromTrustedProxy(req: InboundRequest): void {
  fromTrustedProxy.add(req);
}

function forwardedFor(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  if (address.startsWith('::ffff:')) return address.slice(7);
  return address;
}

/**
 * Headers for the upstream request. `keepUpgrade` keeps `Connection: upgrade` and `Upgrade` for
 * WebSocket handshakes (sent by node:http); for node:http a chunked request body keeps its
 * `Transfer-Encoding` so node re-chunks it, while the router's own connections (`framesBody`)
 * frame bodies themselves.
 */
export function upstreamRequestHeaders(req: InboundRequest, keepUpgrade: boolean, extra?: string[], framesBody = false): string[] {
  const raw = req.rawHeaders;
  const drop = connectionTokens(req);
  // The router is the edge: what a client says about earlier hops is believed only from a trusted proxy.
  const trusted = fromTrustedProxy.has(req);
  const out: string[] = [];
  let xff: string | undefined;
  let forwarded: string | undefined;
  let hasProto = false;
  let hasXHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP.has(lower)) {
      if (lower === 'transfer-encoding' && !framesBody) out.push(name, raw[i + 1]!);
      else if (keepUpgrade && lower === 'upgrade') out.push(name, raw[i + 1]!);
      continue;
    }
    if (drop?.has(lower)) continue;
    if (!trusted && (lower === 'x-forwarded-for' || lower === 'forwarded' || lower === 'x-forwarded-proto' || lower === 'x-forwarded-host')) continue;
    if (lower === 'x-forwarded-for') { xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`; continue; }
    if (lower === 'forwarded') { forwarded = forwarded === undefined ? raw[i + 1]! : `${forwarded}, ${raw[i + 1]!}`; continue; }
    if (lower === 'x-forwarded-proto') hasProto = true;
    else if (lower === 'x-forwarded-host') hasXHost = true;
    out.push(name, raw[i + 1]!);
  }
  const ip = forwardedFor(req.socket.remoteAddress);
  out.push('x-forwarded-for', xff === undefined ? ip : `${xff}, ${ip}`);
  // A request that came over the TLS listener (HTTP/1.1 or HTTP/2) has a TLS socket.
  const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  if (!hasProto) out.push('x-forwarded-proto', proto);
  const host = req.headers.host;
  if (!hasXHost && host !== undefined) out.push('x-forwarded-host', host);
  const node = ip.includes(':') ? `"[${ip}]"` : ip;
  const element = host !== undefined ? `for=${node};host="${host.replace(/["\\]/g, '')}";proto=${proto}` : `for=${node};proto=${proto}`;
  out.push('forwarded', forwarded === undefined ? element : `${forwarded}, ${element}`);
  if (keepUpgrade) out.push('connection', 'upgrade');
  if (extra) out.push(...extra);
  return out;
}

/**
 * Whether a `Connection` value names one header and it is one dropped anyway (`keep-alive`, what
 * node and most servers send): then no second pass over the headers is needed.
 */
function namesOnlyHopHeaders(connection: string): boolean {
  return !connection.includes(',') && HOP.has(connection.trim().toLowerCase());
}

/** Response headers for the client: the upstream's minus hop-by-hop, plus `extra` name/value pairs. */
export function clientResponseHeaders(raw: string[], extra: string[] | undefined): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'connection') { connection = raw[i + 1]; continue; }
    if (HOP.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  if (connection !== undefined && !namesOnlyHopHeaders(connection)) {
    // Headers the upstream declared hop-by-hop must not leak either.
    const drop = new Set(connection.split(',').map((t) => t.trim().toLowerCase()));
    if (drop.size > 0) {
      const kept: string[] = [];
      for (let i = 0; i < out.length; i += 2) if (!drop.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
      if (extra !== undefined) kept.push(...extra);
      return kept;
    }
  }
  if (extra !== undefined) out.push(...extra);
  return out;
}
