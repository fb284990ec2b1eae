import { describe, expect, it } from 'vitest';
import { MAX_HEAD_BYTES, ResponseParser, type ResponseHead, type ResponseSink } from './response-parser.js';
import { UpstreamError, type UpstreamErrorCode } from './upstream-error.js';

/** What a user of the parser notices: the heads, the body bytes, the completions, the error. */
interface Outcome {
  heads: ResponseHead[];
  /** The body bytes delivered, latin1. */
  body: string;
  /** Completions delivered by `execute` alone. */
  completedByBytes: number;
  /** Completions once `finish()` (the connection's close) was also called. */
  completed: number;
  error: UpstreamErrorCode | undefined;
}

class Recorder implements ResponseSink {
  readonly heads: ResponseHead[] = [];
  readonly bodies: Buffer[] = [];
  completions = 0;
  onHead(head: ResponseHead): void {
    this.heads.push(head);
  }
  onBody(chunk: Buffer): void {
    // A view of the input: copied, as the sink's contract asks.
    this.bodies.push(Buffer.from(chunk));
  }
  onComplete(): void {
    this.completions++;
  }
}

/** Feeds `pieces` to a fresh parser (after `expect(method)`, unless null), then closes the connection. */
function run(pieces: readonly Buffer[], method: string | null = 'GET'): Outcome {
  const sink = new Recorder();
  const parser = new ResponseParser(sink);
  if (method !== null) parser.expect(method);
  let completedByBytes = 0;
  let error: UpstreamErrorCode | undefined;
  try {
    for (const piece of pieces) parser.execute(piece);
    completedByBytes = sink.completions;
    parser.finish();
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    error = err.code;
  }
  return { heads: sink.heads, body: Buffer.concat(sink.bodies).toString('latin1'), completedByBytes, completed: sink.completions, error };
}

/** A parser recording into `sink` whose `onComplete` expects the next response (a request sent from there) while `again()` says so. */
function expectingAgain(sink: Recorder, again: () => boolean): ResponseParser {
  const parser: ResponseParser = new ResponseParser({
    onHead: (h) => sink.onHead(h),
    onBody: (b) => sink.onBody(b),
    onComplete: () => {
      sink.onComplete();
      if (again()) parser.expect('GET');
    },
  });
  return parser;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const whole = (s: string): Buffer[] => [bytes(s)];
const byteByByte = (s: string): Buffer[] => [...bytes(s)].map((b) => Buffer.from([b]));
const splitAt = (s: string, at: number): Buffer[] => [bytes(s.slice(0, at)), bytes(s.slice(at))];

/** Every way of feeding `s`: whole, one byte per `execute`, and in two pieces split at every byte boundary. */
function feedings(s: string): [string, Buffer[]][] {
  const out: [string, Buffer[]][] = [['whole', whole(s)], ['one byte at a time', byteByByte(s)]];
  for (let at = 0; at <= s.length; at++) out.push([`split at ${at}`, splitAt(s, at)]);
  return out;
}

function head(status: number, statusText: string, headers: string[], more: Partial<Pick<ResponseHead, 'keepAlive' | 'keepAliveTimeoutMs' | 'contentLength'>> = {}): ResponseHead {
  return { status, statusText, headers, keepAlive: true, keepAliveTimeoutMs: undefined, contentLength: undefined, ...more };
}

const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
const CHUNKED_HEAD = head(200, 'OK', ['Transfer-Encoding', 'chunked']);

/** How a response ends: with its last byte, or with the connection's close (`finish()`). */
type Ending = 'last byte' | 'finish';

const ACCEPTED: [label: string, input: string, method: string, head: ResponseHead, body: string, ending: Ending][] = [
  ['Content-Length: 0', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET', head(200, 'OK', ['Content-Length', '0'], { contentLength: 0 }), '', 'last byte'],
  ['a small Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello', 'GET', head(200, 'OK', ['Content-Type', 'text/plain', 'Content-Length', '5'], { contentLength: 5 }), 'hello', 'last byte'],
  ['a body of CRLFs, NUL, 0xff and a status line', 'HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n\r\n\r\n\x00\xffHTTP/1.1 200 OK\r\n\r\n', 'GET', head(200, 'OK', ['Content-Length', '25'], { contentLength: 25 }), '\r\n\r\n\x00\xffHTTP/1.1 200 OK\r\n\r\n', 'last byte'],
  ['lower-case content-length with leading zeros', 'HTTP/1.1 200 OK\r\ncontent-length: 005\r\n\r\nhello', 'GET', head(200, 'OK', ['content-length', '005'], { contentLength: 5 }), 'hello', 'last byte'],
  ['whitespace around values, trimmed', 'HTTP/1.1 200 OK\r\nContent-Length: \t 2  \r\nX-A:b \t\r\nTransfer-Encoding-X:\tz\t\r\n\r\nok', 'GET', head(200, 'OK', ['Content-Length', '2', 'X-A', 'b', 'Transfer-Encoding-X', 'z'], { contentLength: 2 }), 'ok', 'last byte'],
  ['a tab before Transfer-Encoding\'s value', 'HTTP/1.1 200 OK\r\nTransfer-Encoding:\tchunked \r\n\r\n2\r\nok\r\n0\r\n\r\n', 'GET', CHUNKED_HEAD, 'ok', 'last byte'],
  ['inner spaces, obs-text and an empty value, as sent', 'HTTP/1.1 200 OK\r\nX-A: a  b\tc\r\nX-B: caf\xe9\r\nX-C:\r\nx-a: again\r\nContent-Length: 0\r\n\r\n', 'GET', head(200, 'OK', ['X-A', 'a  b\tc', 'X-B', 'caf\xe9', 'X-C', '', 'x-a', 'again', 'Content-Length', '0'], { contentLength: 0 }), '', 'last byte'],
  ['no reason phrase', 'HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n', 'GET', head(404, '', ['Content-Length', '0'], { contentLength: 0 }), '', 'last byte'],
  ['an empty reason phrase after the space', 'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n', 'GET', head(200, '', ['Content-Length', '0'], { contentLength: 0 }), '', 'last byte'],
  ['a reason phrase with a tab and obs-text', 'HTTP/1.0 599 D\xe9j\xe0\tvu\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\nKEEP-ALIVE: Timeout=7\r\n\r\n', 'GET', head(599, 'D\xe9j\xe0\tvu', ['Content-Length', '0', 'Connection', 'Keep-Alive', 'KEEP-ALIVE', 'Timeout=7'], { contentLength: 0, keepAliveTimeoutMs: 7000 }), '', 'last byte'],
  ['a reason phrase of several words', 'HTTP/1.1 503 Service  Unavailable\r\nContent-Length: 0\r\n\r\n', 'GET', head(503, 'Service  Unavailable', ['Content-Length', '0'], { contentLength: 0 }), '', 'last byte'],
  ['chunked', `${CHUNKED}5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`, 'GET', CHUNKED_HEAD, 'hello world', 'last byte'],
  ['chunked, sizes in upper-case hex with leading zeros, coding in capitals', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n00A\r\n0123456789\r\n000\r\n\r\n', 'GET', head(200, 'OK', ['Transfer-Encoding', 'Chunked']), '0123456789', 'last byte'],
  ['chunked, with chunk extensions', `${CHUNKED}5;name=value\r\nhello\r\n6;a;b="q \\"x\\""\r\n world\r\n0;last\r\n\r\n`, 'GET', CHUNKED_HEAD, 'hello world', 'last byte'],
  ['chunked, with trailers', `${CHUNKED}5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n`, 'GET', CHUNKED_HEAD, 'hello', 'last byte'],
  ['chunked, with extensions and trailers', `${CHUNKED}3;x=1\r\nabc\r\n0;y\r\nX-T: v\r\n\r\n`, 'GET', CHUNKED_HEAD, 'abc', 'last byte'],
  ['chunked, data that looks like a last chunk', `${CHUNKED}5\r\n0\r\n\r\n\r\n0\r\n\r\n`, 'GET', CHUNKED_HEAD, '0\r\n\r\n', 'last byte'],
  ['chunked, no data chunk at all', `${CHUNKED}0\r\n\r\n`, 'GET', CHUNKED_HEAD, '', 'last byte'],
  ['delimited by the close', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the\r\n\r\nend', 'GET', head(200, 'OK', ['Content-Type', 'text/plain'], { keepAlive: false }), 'until the\r\n\r\nend', 'finish'],
  ['delimited by the close, empty', 'HTTP/1.1 200 OK\r\n\r\n', 'GET', head(200, 'OK', [], { keepAlive: false }), '', 'finish'],
  ['HEAD, with Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', 'HEAD', head(200, 'OK', ['Content-Length', '1234']), '', 'last byte'],
  ['HEAD, chunked', CHUNKED, 'HEAD', CHUNKED_HEAD, '', 'last byte'],
  ['HEAD, with neither', 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n', 'HEAD', head(200, 'OK', ['Content-Type', 'text/html']), '', 'last byte'],
  ['204', 'HTTP/1.1 204 No Content\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n', 'GET', head(204, 'No Content', ['Date', 'Mon, 01 Jan 2024 00:00:00 GMT']), '', 'last byte'],
  ['304, with the Content-Length of the representation', 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 42\r\n\r\n', 'GET', head(304, 'Not Modified', ['ETag', '"x"', 'Content-Length', '42']), '', 'last byte'],
  ['304, with Transfer-Encoding: chunked', 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET', head(304, 'Not Modified', ['Transfer-Encoding', 'chunked']), '', 'last byte'],
  ['100 Continue, then the response', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'GET', head(200, 'OK', ['Content-Length', '2'], { contentLength: 2 }), 'ok', 'last byte'],
  ['103 Early Hints, then a chunked response', `HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n${CHUNKED}2\r\nok\r\n0\r\n\r\n`, 'GET', CHUNKED_HEAD, 'ok', 'last byte'],
  ['an HTTP/1.0 100 with Connection: keep-alive, then the response', 'HTTP/1.0 100 Continue\r\nConnection: keep-alive\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'GET', head(200, 'OK', ['Content-Length', '2'], { contentLength: 2 }), 'ok', 'last byte'],
  ['100 and 103, then a 204', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </b.js>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', 'GET', head(204, 'No Content', []), '', 'last byte'],
  ['Connection: close', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', 'GET', head(200, 'OK', ['Connection', 'close', 'Content-Length', '2'], { keepAlive: false, contentLength: 2 }), 'ok', 'last byte'],
  ['Connection: Upgrade, CLOSE', 'HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n', 'GET', head(200, 'OK', ['Connection', 'Upgrade, CLOSE', 'Content-Length', '0'], { keepAlive: false, contentLength: 0 }), '', 'last byte'],
  ['HTTP/1.0', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', 'GET', head(200, 'OK', ['Content-Length', '2'], { keepAlive: false, contentLength: 2 }), 'ok', 'last byte'],
  ['HTTP/1.0 with Connection: keep-alive', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 2\r\n\r\nok', 'GET', head(200, 'OK', ['Connection', 'keep-alive', 'Keep-Alive', 'timeout=5, max=100', 'Content-Length', '2'], { keepAliveTimeoutMs: 5000, contentLength: 2 }), 'ok', 'last byte'],
  ['HTTP/1.0 with keep-alive but delimited by the close', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbye', 'GET', head(200, 'OK', ['Connection', 'keep-alive'], { keepAlive: false }), 'bye', 'finish'],
  ['Keep-Alive: timeout=5', 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n', 'GET', head(200, 'OK', ['Keep-Alive', 'timeout=5', 'Content-Length', '0'], { keepAliveTimeoutMs: 5000, contentLength: 0 }), '', 'last byte'],
  ['keep-alive: max=100, timeout=30', 'HTTP/1.1 200 OK\r\nkeep-alive: max=100, timeout=30\r\nContent-Length: 0\r\n\r\n', 'GET', head(200, 'OK', ['keep-alive', 'max=100, timeout=30', 'Content-Length', '0'], { keepAliveTimeoutMs: 30000, contentLength: 0 }), '', 'last byte'],
  ['Keep-Alive without a timeout', 'HTTP/1.1 200 OK\r\nKeep-Alive: max=5\r\nContent-Length: 0\r\n\r\n', 'GET', head(200, 'OK', ['Keep-Alive', 'max=5', 'Content-Length', '0'], { contentLength: 0 }), '', 'last byte'],
];

const REFUSED: [label: string, input: string, method: string | null][] = [
  // Framing that two parsers could read differently.
  ['Transfer-Encoding and Content-Length', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello', 'GET'],
  ['Content-Length and Transfer-Encoding: identity', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello', 'GET'],
  ['Transfer-Encoding and Content-Length on a 204', 'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['Transfer-Encoding and Content-Length on a 304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET'],
  ['Transfer-Encoding and Content-Length to a HEAD', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n', 'HEAD'],
  ['an interim 100 with Connection: close', 'HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'GET'],
  ['an HTTP/1.0 interim 103', 'HTTP/1.0 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'GET'],
  ['Transfer-Encoding and Content-Length on an interim 100', 'HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', 'GET'],
  ['a tab after Transfer-Encoding: chunked', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a space and a tab after Transfer-Encoding: chunked', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \t\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a tab after Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\t\r\n\r\nhello', 'GET'],
  ['two equal Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', 'GET'],
  ['two different Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello!', 'GET'],
  ['two Content-Length on a 304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', 'GET'],
  ['Content-Length: +5', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', 'GET'],
  ['Content-Length: -5', 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello', 'GET'],
  ['Content-Length: 1 0', 'HTTP/1.1 200 OK\r\nContent-Length: 1 0\r\n\r\nhelloworld', 'GET'],
  ['Content-Length: 1\\t0', 'HTTP/1.1 200 OK\r\nContent-Length: 1\t0\r\n\r\nhelloworld', 'GET'],
  ['Content-Length: 0x5', 'HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello', 'GET'],
  ['Content-Length: 5, 5', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello', 'GET'],
  ['Content-Length: 5,5', 'HTTP/1.1 200 OK\r\nContent-Length: 5,5\r\n\r\nhello', 'GET'],
  ['Content-Length: 5.0', 'HTTP/1.1 200 OK\r\nContent-Length: 5.0\r\n\r\nhello', 'GET'],
  ['Content-Length: 5e0', 'HTTP/1.1 200 OK\r\nContent-Length: 5e0\r\n\r\nhello', 'GET'],
  ['an empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n', 'GET'],
  ['a Content-Length of 16 digits', 'HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n', 'GET'],
  ['Transfer-Encoding: gzip, chunked', `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['Transfer-Encoding: chunked, chunked', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['Transfer-Encoding: xchunked', `HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['Transfer-Encoding: chunked;q=1', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['Transfer-Encoding: gzip', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello', 'GET'],
  ['an empty Transfer-Encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\nhello', 'GET'],
  ['Transfer-Encoding gzip, then chunked, in two headers', `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['Transfer-Encoding chunked in two headers', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  // Lines.
  ['obs-fold (a space)', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['obs-fold (a tab)', 'HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['obs-fold of Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n 5\r\n\r\nhello', 'GET'],
  ['a first header line that starts with a space', 'HTTP/1.1 200 OK\r\n Content-Length: 0\r\n\r\n', 'GET'],
  ['bare LFs throughout the head', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'GET'],
  ['a bare LF ending the status line', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a bare LF ending a header line', 'HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a bare LF ending the last header line', 'HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n', 'GET'],
  ['a bare LF ending the head', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n', 'GET'],
  ['a bare LF ending a chunk-size line', `${CHUNKED}5\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a bare LF ending the last chunk line', `${CHUNKED}5\r\nhello\r\n0\n\r\n`, 'GET'],
  ['a bare LF ending a trailer line', `${CHUNKED}5\r\nhello\r\n0\r\nX-T: v\n\r\n`, 'GET'],
  ['a bare LF ending the trailers', `${CHUNKED}5\r\nhello\r\n0\r\nX-T: v\r\n\n`, 'GET'],
  ['a bare LF as the empty trailer section', `${CHUNKED}5\r\nhello\r\n0\r\n\n`, 'GET'],
  ['a bare CR ending the status line', 'HTTP/1.1 200 OK\r\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a bare CR inside a value', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a bare CR as a header line', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\r\n\r\n', 'GET'],
  ['a bare CR in a chunk-size line', `${CHUNKED}5\r\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a bare CR after chunk data', `${CHUNKED}5\r\nhello\r0\r\n\r\n`, 'GET'],
  ['a bare CR in the trailers', `${CHUNKED}5\r\nhello\r\n0\r\n\rX-T: v\r\n\r\n`, 'GET'],
  ['a bare CR before the trailers end', `${CHUNKED}5\r\nhello\r\n0\r\n\r\r\n\r\n`, 'GET'],
  ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello', 'GET'],
  ['a tab before the colon', 'HTTP/1.1 200 OK\r\nX-A\t: b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a space in a header name', 'HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['an empty header name', 'HTTP/1.1 200 OK\r\n: b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a header line without a colon', 'HTTP/1.1 200 OK\r\nX-A b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a header name with a separator', 'HTTP/1.1 200 OK\r\nX(A): b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a header name with obs-text', 'HTTP/1.1 200 OK\r\nX\xe9: b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a NUL in Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\x00\r\n\r\nhello', 'GET'],
  ['\\x01 in a value', 'HTTP/1.1 200 OK\r\nX-A: \x01\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['ESC in a value', 'HTTP/1.1 200 OK\r\nX-A: \x1b[0m\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['DEL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x7f\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a NUL in the reason phrase', 'HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a NUL in a trailer', `${CHUNKED}0\r\nX-T: \x00\r\n\r\n`, 'GET'],
  ['a trailer line that is no field', `${CHUNKED}0\r\nnot a field\r\n\r\n`, 'GET'],
  ['an obs-folded trailer', `${CHUNKED}0\r\nX-T: a\r\n b\r\n\r\n`, 'GET'],
  // Chunks.
  ['chunk size 0x10', `${CHUNKED}0x10\r\n0123456789abcdef\r\n0\r\n\r\n`, 'GET'],
  ['chunk size -1', `${CHUNKED}-1\r\nx\r\n0\r\n\r\n`, 'GET'],
  ['chunk size +5', `${CHUNKED}+5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a chunk size of 14 hex digits', `${CHUNKED}00000000000005\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a chunk size of 15 hex digits', `${CHUNKED}fffffffffffffff\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['an empty chunk size', `${CHUNKED}\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a chunk size that is no hex', `${CHUNKED}g\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a space before a chunk size', `${CHUNKED} 5\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a space after a chunk size', `${CHUNKED}5 \r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['an empty chunk extension', `${CHUNKED}5;\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a space inside a chunk extension', `${CHUNKED}5;a b\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a space before a chunk extension', `${CHUNKED}5 ;a\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a tab before a chunk extension', `${CHUNKED}5\t;a\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['spaces around = in a chunk extension', `${CHUNKED}5;a = b\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a chunk extension without a name', `${CHUNKED}5;=b\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a chunk extension with an empty value', `${CHUNKED}5;a=\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['two semicolons in a chunk line', `${CHUNKED}5;;a\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['obs-text in a chunk extension value', `${CHUNKED}1;name=va\xbcue\r\nx\r\n0\r\n\r\n`, 'GET'],
  ['an unterminated quoted chunk extension', `${CHUNKED}5;a="x\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a byte after a quoted chunk extension', `${CHUNKED}5;a="x"y\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a chunk extension on the last chunk with a space', `${CHUNKED}0; a\r\n\r\n`, 'GET'],
  ['a NUL in a chunk extension', `${CHUNKED}5;a=\x00\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['a chunk-size line over 1 KiB', `${CHUNKED}5;x=${'a'.repeat(1100)}\r\nhello\r\n0\r\n\r\n`, 'GET'],
  ['chunk data followed by X', `${CHUNKED}5\r\nhelloX\r\n0\r\n\r\n`, 'GET'],
  ['chunk data followed by LF', `${CHUNKED}5\r\nhello\n0\r\n\r\n`, 'GET'],
  ['chunk data longer than its size', `${CHUNKED}5\r\nhello world\r\n0\r\n\r\n`, 'GET'],
  ['chunk data shorter than its size', `${CHUNKED}6\r\nhello\r\n0\r\n\r\n`, 'GET'],
  // A byte after the end of a response.
  ['a byte after a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello!', 'GET'],
  ['CRLF after a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\r\n', 'GET'],
  ['CRLF after a chunked body', `${CHUNKED}5\r\nhello\r\n0\r\n\r\n\r\n`, 'GET'],
  ['a second response after the first', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno', 'GET'],
  ['a body after a 204', 'HTTP/1.1 204 No Content\r\n\r\nx', 'GET'],
  ['a body after a 304 with Content-Length', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello', 'GET'],
  ['a body after the head answering HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', 'HEAD'],
  ['a chunked body after the head answering HEAD', `${CHUNKED}5\r\nhello\r\n0\r\n\r\n`, 'HEAD'],
  ['bytes with no request outstanding', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', null],
  // Status lines.
  ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 'GET'],
  ['101 Switching Protocols after a 100', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n', 'GET'],
  ['HTTP/2', 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['HTTP/2.0', 'HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['HTTP/1.2', 'HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['HTTP/1.10', 'HTTP/1.10 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a lower-case protocol', 'http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['another protocol', 'ICY 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a two-digit status', 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a four-digit status', 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['status 099', 'HTTP/1.1 099 Hm\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a status that is no number', 'HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['two spaces before the status', 'HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a tab before the status', 'HTTP/1.1\t200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a tab after the status', 'HTTP/1.1 200\tOK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a letter in the status', 'HTTP/1.1 2O0 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['no space after the status', 'HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['a space before the protocol', ' HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['an empty line before the status line', '\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ['an empty head', '\r\n\r\n', 'GET'],
  ['garbage', 'hello world\r\n\r\n', 'GET'],
];

const CUT_SHORT: [label: string, input: string, method: string][] = [
  ['nothing at all', '', 'GET'],
  ['nothing at all, to a HEAD', '', 'HEAD'],
  ['in the status line', 'HTTP/1.1 20', 'GET'],
  ['in the head', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n', 'GET'],
  ['before the head\'s last LF', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r', 'GET'],
  ['in a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel', 'GET'],
  ['before a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'GET'],
  ['in a chunk-size line', `${CHUNKED}5`, 'GET'],
  ['before a chunk-size line', CHUNKED, 'GET'],
  ['in chunk data', `${CHUNKED}5\r\nhel`, 'GET'],
  ['before the CRLF after chunk data', `${CHUNKED}5\r\nhello`, 'GET'],
  ['between the CR and LF after chunk data', `${CHUNKED}5\r\nhello\r`, 'GET'],
  ['before the last chunk', `${CHUNKED}5\r\nhello\r\n`, 'GET'],
  ['after the last chunk line', `${CHUNKED}5\r\nhello\r\n0\r\n`, 'GET'],
  ['in the empty trailer section', `${CHUNKED}5\r\nhello\r\n0\r\n\r`, 'GET'],
  ['in the trailers', `${CHUNKED}5\r\nhello\r\n0\r\nX-T: v\r\n`, 'GET'],
  ['after an interim response', 'HTTP/1.1 100 Continue\r\n\r\n', 'GET'],
];

describe('ResponseParser reads', () => {
  it.each(ACCEPTED)('%s', (_label, input, method, expectedHead, body, ending) => {
    const sink = new Recorder();
    const parser = new ResponseParser(sink);
    parser.expect(method);
    expect(parser.busy).toBe(true);
    parser.execute(bytes(input));
    expect(sink.heads).toEqual([expectedHead]);
    expect(Buffer.concat(sink.bodies).toString('latin1')).toBe(body);
    expect(sink.completions).toBe(ending === 'last byte' ? 1 : 0);
    expect(parser.closeDelimited).toBe(ending === 'finish');
    parser.finish();
    expect(sink.completions).toBe(1);
    expect(parser.busy).toBe(false);
    expect(parser.closeDelimited).toBe(false);
  });
});

describe('ResponseParser reads the same in pieces', () => {
  it.each(ACCEPTED)('%s: one byte per execute, and split at every byte boundary', (_label, input, method, expectedHead, body, ending) => {
    const expected: Outcome = { heads: [expectedHead], body, completedByBytes: ending === 'last byte' ? 1 : 0, completed: 1, error: undefined };
    for (const [how, pieces] of feedings(input)) expect(run(pieces, method), `${how} of ${JSON.stringify(input)}`).toEqual(expected);
  });

  it('delivers the body as it comes, piece by piece', () => {
    const sink = new Recorder();
    const parser = new ResponseParser(sink);
    parser.expect('GET');
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel'));
    expect(sink.bodies.map((b) => b.toString('latin1'))).toEqual(['hel']);
    parser.execute(bytes('lo'));
    parser.execute(bytes('world'));
    expect(sink.bodies.map((b) => b.toString('latin1'))).toEqual(['hel', 'lo', 'world']);
    expect(sink.completions).toBe(1);
  });
});

describe('ResponseParser refuses with UPSTREAM_BAD_RESPONSE', () => {
  it.each(REFUSED)('%s', (_label, input, method) => {
    for (const [how, pieces] of feedings(input)) expect(run(pieces, method).error, `${how} of ${JSON.stringify(input)}`).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('bytes after a complete response in the same execute call, even when onComplete sends the next request', () => {
    const input = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno';
    const sink = new Recorder();
    const parser = expectingAgain(sink, () => true);
    parser.expect('GET');
    expect(() => parser.execute(bytes(input))).toThrow(expect.objectContaining({ code: 'UPSTREAM_BAD_RESPONSE' }));
    expect(sink.heads).toHaveLength(1);
    expect(Buffer.concat(sink.bodies).toString('latin1')).toBe('ok');
    expect(sink.completions).toBe(1);
  });

  it('bytes arriving after a response, before the next request', () => {
    const sink = new Recorder();
    const parser = new ResponseParser(sink);
    parser.expect('GET');
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    expect(sink.completions).toBe(1);
    expect(() => parser.execute(bytes('H'))).toThrow(expect.objectContaining({ code: 'UPSTREAM_BAD_RESPONSE' }));
  });

  it.each([
    [32, undefined],
    [33, 'UPSTREAM_BAD_RESPONSE'],
  ])('%i interim responses before the final one: %s', (interim, error) => {
    const input = 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(interim) + 'HTTP/1.1 204 No Content\r\n\r\n';
    expect(run(whole(input)).error).toBe(error);
  });
});

describe('ResponseParser limits a head to 16 KiB', () => {
  /** A head of exactly `size` bytes: a status line, Content-Length: 0 and a padding header. */
  const paddedHead = (size: number): string => {
    const start = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ';
    return `${start}${'a'.repeat(size - start.length - 4)}\r\n\r\n`;
  };

  it.each([
    ['exactly 16 KiB', paddedHead(MAX_HEAD_BYTES), undefined],
    ['one byte over 16 KiB', paddedHead(MAX_HEAD_BYTES + 1), 'UPSTREAM_BAD_RESPONSE'],
    ['64 KiB', paddedHead(64 * 1024), 'UPSTREAM_BAD_RESPONSE'],
    ['over 16 KiB and not ended yet', paddedHead(MAX_HEAD_BYTES + 100).slice(0, MAX_HEAD_BYTES + 10), 'UPSTREAM_BAD_RESPONSE'],
    ['a trailer section over 16 KiB', `${CHUNKED}0\r\nX-Pad: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, 'UPSTREAM_BAD_RESPONSE'],
  ])('%s', (_label, input, error) => {
    expect(input.length).toBeGreaterThan(MAX_HEAD_BYTES - 1);
    for (const pieces of [whole(input), byteByByte(input), splitAt(input, MAX_HEAD_BYTES - 2)]) expect(run(pieces).error).toBe(error);
  });
});

describe('ResponseParser, on a connection cut short', () => {
  it.each(CUT_SHORT)('%s: finish() throws UPSTREAM_CLOSED', (_label, input, method) => {
    for (const [how, pieces] of feedings(input)) {
      const outcome = run(pieces, method);
      expect(outcome.error, `${how} of ${JSON.stringify(input)}`).toBe('UPSTREAM_CLOSED');
      expect(outcome.completed).toBe(0);
    }
  });

  it('finish() with no request outstanding does nothing', () => {
    const sink = new Recorder();
    const parser = new ResponseParser(sink);
    parser.finish();
    parser.expect('GET');
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    parser.finish();
    expect(sink.completions).toBe(1);
  });
});

describe('ResponseParser, one per connection', () => {
  it('reads responses in sequence: expect, execute, expect, execute', () => {
    const sink = new Recorder();
    const parser = new ResponseParser(sink);
    parser.expect('GET');
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst'));
    parser.expect('HEAD');
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n'));
    parser.expect('GET');
    parser.execute(bytes(`HTTP/1.1 100 Continue\r\n\r\n${CHUNKED}3\r\nthi`));
    parser.execute(bytes('\r\n0\r\nX-T: 1\r\n\r\n'));
    parser.expect('GET');
    parser.execute(bytes('HTTP/1.1 304 Not Modified\r\n\r\n'));
    expect(sink.heads.map((h) => [h.status, h.headers])).toEqual([
      [200, ['Content-Length', '5']],
      [200, ['Content-Length', '6']],
      [200, ['Transfer-Encoding', 'chunked']],
      [304, []],
    ]);
    expect(Buffer.concat(sink.bodies).toString('latin1')).toBe('firstthi');
    expect(sink.completions).toBe(4);
    expect(parser.busy).toBe(false);
  });

  it('reads the next response when onComplete sends the next request and its answer comes in a later execute', () => {
    const first = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const second = `${CHUNKED}2\r\nno\r\n0\r\n\r\n`;
    const sink = new Recorder();
    const parser = expectingAgain(sink, () => sink.completions === 1);
    parser.expect('GET');
    parser.execute(bytes(first));
    parser.execute(bytes(second));
    expect(sink.heads.map((h) => h.status)).toEqual([200, 200]);
    expect(Buffer.concat(sink.bodies).toString('latin1')).toBe('okno');
    expect(sink.completions).toBe(2);
  });
});
