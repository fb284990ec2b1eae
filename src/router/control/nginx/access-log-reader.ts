/**
 * Reads nginx's access log from a syslog socket: nginx sends one UDP datagram per request to
 * 127.0.0.1, and each becomes one call of `onLine`. UDP on loopback does not reorder; it drops only
 * when the receive buffer overflows, which a reader that parses a line in microseconds avoids.
 */
import { createSocket, type Socket } from 'node:dgram';
import { LOG_MARK } from './render-config.js';

/** One request as nginx logged it. */
export interface AccessLine {
  /** Service name; empty for a request no service took. */
  service: string;
  /** Revision that served it (or answered 503 for). */
  revision: string;
  /** Revision chosen before falling back for want of a ready instance. */
  pick: string;
  /** Response status nginx sent (499: the client went away). */
  status: number;
  /** Time from the request's first byte to the response's last, ms. */
  requestMs: number;
  /** A client's request, or a mirrored copy. */
  kind: 'request' | 'mirror';
}

/** Parses a syslog datagram carrying a graylane access log line; undefined for anything else. */
export function parseAccessLine(datagram: string): AccessLine | undefined {
  const at = datagram.indexOf(`${LOG_MARK}|`);
  if (at < 0) return undefined;
  const f = datagram.slice(at).trimEnd().split('|');
  if (f.length < 8) return undefined;
  const status = Number(f[4]);
  const seconds = Number(f[5]);
  if (!Number.isInteger(status) || !Number.isFinite(seconds)) return undefined;
  return { service: f[1]!, revision: f[2]!, pick: f[3]!, status, requestMs: seconds * 1000, kind: f[7] === 'mirror' ? 'mirror' : 'request' };
}

/** A bound syslog listener. */
export interface AccessLogReader {
  /** The UDP port on 127.0.0.1 nginx should send to. */
  port: number;
  /** Stops listening. */
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (`port` 0: any free port) and calls `onLine` for every graylane line. */
export async function listenAccessLog(options: { port?: number; onLine: (line: AccessLine) => void }): Promise<AccessLogReader> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg) => {
    const line = parseAccessLine(msg.toString('utf8'));
    if (line) options.onLine(line);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A burst must not overflow the default receive buffer before the event loop comes round.
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    // The kernel's cap applies; a smaller buffer only matters under bursts far above a test's.
  }
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
