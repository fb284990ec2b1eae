/**
 * The HTTPS listener: node:http2's secure server with HTTP/1.1 allowed, so ALPN picks `h2` or
 * `http/1.1` per connection and both reach the same request handling as the plain listener.
 * HTTP/2 requests are reshaped into what that handling (and the HTTP/1.1 upstream) expects:
 * `:authority` becomes `Host`, pseudo-headers go, and split `cookie` fields are joined again
 * (RFC 9113 §8.2.3), since upstream requests stay HTTP/1.1.
 *
 * A stopping router drains it as it drains the plain listener (fresh-connections.ts): the listener
 * follows each connection from its TCP accept, so one accepted before the stop (handshake done or
 * not) is given the grace to bring its first request, and one that is idle is closed, not cut.
 */
import type http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
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
  /**
   * Closes, gracefully, what has served a request and has nothing in flight: an HTTP/1.1
   * connection between requests (TLS close and FIN), an HTTP/2 session (GOAWAY; its streams
   * finish). A stopping router calls it again and again as connections fall idle; connections that
   * have carried no request yet are left to bring it.
   */
  closeIdle(): void;
  /** Accepted connections (TLS handshake or not) that have carried no request yet. */
  readonly freshConnections: number;
  /** Cuts every connection still open, handshaking or not. */
  destroyAll(): void;
  /** Replaces the certificate of clients without SNI. */
  setFallback(cert: LoadedCertificate): void;
}

/** One client connection, from its TCP accept to its close. */
interface Connection {
  readonly raw: Socket;
  /** Set once the TLS handshake is done and ALPN chose HTTP/1.1. */
  tls?: TLSSocket;
  /** Set once the TLS handshake is done and ALPN chose HTTP/2. */
  session?: http2.ServerHttp2Session;
  /** A request (or HTTP/2 stream) has come on it. */
  served: boolean;
  /** HTTP/1.1 responses not yet sent in full. */
  readonly responses: Set<http.ServerResponse>;
  /** {@link HttpsServer.closeIdle} has closed it. */
  closing: boolean;
}

/**
 * A connection's key: its peer's address and port, the same on the TCP socket the listener accepts
 * and on the TLS socket or HTTP/2 session node builds on it (which expose no public link to it).
 */
function peerKey(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string | undefined {
  return socket.remoteAddress === undefined || socket.remotePort === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
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
  const connections = new Map<string, Connection>();
  const connectionOf = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }) => {
    const key = peerKey(socket);
    return key === undefined ? undefined : connections.get(key);
  };
  server.on('connection', (raw: Socket) => {
    const key = peerKey(raw);
    if (key === undefined) return;
    const connection: Connection = { raw, served: false, responses: new Set(), closing: false };
    connections.set(key, connection);
    raw.once('close', () => {
      if (connections.get(key) === connection) connections.delete(key);
    });
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const connection = connectionOf(socket);
    if (connection && socket.alpnProtocol !== 'h2') connection.tls = socket;
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    const connection = connectionOf(session.socket);
    if (!connection) return;
    connection.session = session;
    session.once('stream', () => (connection.served = true));
  });
  server.on('request', (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (req instanceof http2.Http2ServerRequest) {
      options.onRequest(asHttp1Request(req), res as unknown as http.ServerResponse);
      return;
    }
    const h1 = res as http.ServerResponse;
    const connection = connectionOf(req.socket);
    if (connection) {
      connection.served = true;
      connection.responses.add(h1);
      h1.once('close', () => connection.responses.delete(h1));
    }
    options.onRequest(req, h1);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const connection = connectionOf(req.socket);
    // An upgraded connection is no longer HTTP: the router's drain of its instance ends it.
    if (connection) connection.served = connection.closing = true;
    options.onUpgrade(req, socket, head);
  });
  // A failed handshake or a broken session is the client's business: close it, never crash.
  server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
  server.on('sessionError', () => undefined);
  const closeIdle = () => {
    for (const c of connections.values()) {
      if (c.closing || !c.served) continue;
      if (c.session) {
        c.closing = true;
        c.session.close();
      } else if (c.tls && c.responses.size === 0) {
        c.closing = true;
        c.tls.end();
      }
    }
  };
  return {
    server,
    closeIdle,
    get freshConnections() {
      let n = 0;
      for (const c of connections.values()) if (!c.served) n++;
      return n;
    },
    destroyAll: () => {
      for (const c of connections.values()) {
        c.session?.destroy();
        c.raw.destroy();
      }
    },
    setFallback: (cert) => server.setSecureContext({ cert: cert.cert, key: cert.key, minVersion: 'TLSv1.2' }),
  };
}
