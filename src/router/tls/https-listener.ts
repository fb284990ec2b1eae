/**
 * The HTTPS listener: node:http2's secure server with HTTP/1.1 allowed, so ALPN picks `h2` or
 * `http/1.1` per connection and both reach the same request handling as the plain listener.
 * HTTP/2 requests are reshaped into what that handling (and the HTTP/1.1 upstream) expects:
 * `:authority` becomes `Host`, pseudo-headers go, and split `cookie` fields are joined again
 * (RFC 9113 §8.2.3), since upstream requests stay HTTP/1.1.
 */
import type http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { CertificateStore } from './certificate-store.js';
import type { LoadedCertificate } from './certificates.js';

/** Options of {@link createHttpsServer}. */
export interface HttpsServerOptions {
  /** Per-host certificates for SNI. */
  store: CertificateStore;
  /** The certificate for clients that send no server name. */
  fallback: LoadedCertificate;
  /** No bytes on a connection for this long closes it. */
  idleMs: number;
  /** The whole request header section of an HTTP/1.1 request must arrive within this. */
  headerMs: number;
  /** Client connections open at once; 0 = no limit. */
  maxConnections: number;
  /** Handles a request, HTTP/1.1 or (reshaped) HTTP/2. */
  onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Handles an HTTP/1.1 upgrade (WebSocket over TLS). */
  onUpgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** A running HTTPS listener. */
export interface HttpsServer {
  /** The underlying server (listen on it). */
  server: http2.Http2SecureServer;
  /** Sends GOAWAY on HTTP/2 sessions so clients open new connections elsewhere; streams in flight finish. */
  closeSessions(): void;
  /** Cuts every connection still open. */
  destroyAll(): void;
  /** Replaces the certificate of clients without SNI. */
  setFallback(cert: LoadedCertificate): void;
}

/**
 * Reshapes an HTTP/2 request in place for the HTTP/1.1 handling: no pseudo-headers, `Host` from
 * `:authority` (which wins over a `host` field, RFC 9113 §8.3.1), one `cookie` field.
 */
export function asHttp1Request(req: http2.Http2ServerRequest): http.IncomingMessage {
  const raw = req.rawHeaders;
  const kept: string[] = [];
  const cookies: string[] = [];
  let authority: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.startsWith(':')) {
      if (name === ':authority') authority = raw[i + 1];
      continue;
    }
    if (name === 'cookie') cookies.push(raw[i + 1]!);
    else if (name !== 'host' || authority === undefined) kept.push(name, raw[i + 1]!);
  }
  const headers = req.headers;
  if (authority !== undefined) {
    for (let i = 0; i < kept.length; i += 2) {
      if (kept[i] === 'host') kept.splice(i--, 2);
    }
    kept.push('host', authority);
    headers.host = authority;
  }
  if (cookies.length > 0) {
    const cookie = cookies.join('; ');
    kept.push('cookie', cookie);
    headers.cookie = cookie;
  }
  raw.length = 0;
  raw.push(...kept);
  // The compatibility request offers what the handling reads (headers, url, method, socket,
  // stream events); the types differ only in HTTP/1.1 details it never touches.
  return req as unknown as http.IncomingMessage;
}

/** Creates the HTTPS listener; see the module comment. */
export function createHttpsServer(options: HttpsServerOptions): HttpsServer {
  const server = http2.createSecureServer({
    allowHTTP1: true,
    cert: options.fallback.cert,
    key: options.fallback.key,
    SNICallback: options.store.sniCallback,
    minVersion: 'TLSv1.2',
  });
  // HTTP/1.1 connections on this server are run by node:http's connection handling, which reads these.
  Object.assign(server, { keepAliveTimeout: options.idleMs, headersTimeout: options.headerMs, requestTimeout: 0 });
  server.setTimeout(options.idleMs);
  if (options.maxConnections > 0) server.maxConnections = options.maxConnections;
  const sockets = new Set<TLSSocket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('request', (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (req instanceof http2.Http2ServerRequest) options.onRequest(asHttp1Request(req), res as unknown as http.ServerResponse);
    else options.onRequest(req, res as http.ServerResponse);
  });
  server.on('upgrade', options.onUpgrade);
  // A failed handshake or a broken session is the client's business: close it, never crash.
  server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
  server.on('sessionError', () => undefined);
  return {
    server,
    closeSessions: () => {
      for (const s of sessions) s.close();
    },
    destroyAll: () => {
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
    },
    setFallback: (cert) => server.setSecureContext({ cert: cert.cert, key: cert.key, minVersion: 'TLSv1.2' }),
  };
}
