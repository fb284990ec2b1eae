/**
 * A strict, incremental HTTP/1.1 response parser for the router's upstream connections.
 *
 * Why not llhttp (node:http's client, undici): per request, their JavaScript around the parser
 * cost the router more than the proxying itself (see `npm run bench -- router`); a response to a
 * proxied GET is a status line, a few headers and one body chunk, and this parser reads that with
 * one `indexOf` and a split.
 *
 * It accepts a subset of what RFC 9112 allows senders to produce, and refuses everything else with
 * an {@link UpstreamError} `UPSTREAM_BAD_RESPONSE`, after which the connection is never reused.
 * What it refuses is what lets two parsers disagree on where a response ends (response splitting,
 * a poisoned keep-alive connection serving one client's response to another):
 * - a line ended by a bare LF or CR, obs-fold, a control character, a header name that is no token;
 * - `Transfer-Encoding` with `Content-Length`, a transfer coding other than `chunked`, a second
 *   `Content-Length`, a length that is not decimal digits, a tab after either's value;
 * - an interim (1xx) response that closes the connection;
 * - a chunk size that is not 1 to 13 hex digits, a chunk extension that is not
 *   `;name[=token-or-quoted-string]` without whitespace, chunk data not followed by CRLF;
 * - a byte after the end of a response, before the router sent another request;
 * - `101 Switching Protocols` to a request that asked for no upgrade; a head over 16 KiB.
 * `src/router/upstream/response-parser.fuzz.test.ts` compares it with llhttp on generated input.
 */
import { UpstreamError } from './upstream-error.js';

/** The head of a response, as the router forwards it. */
export interface ResponseHead {
  status: number;
  statusText: string;
  /** Flat name/value pairs, as sent (latin1), in order. */
  headers: string[];
  /** The connection may carry another request after this response. */
  keepAlive: boolean;
  /** The upstream's `Keep-Alive: timeout=N`, in ms: it closes idle connections after that. */
  keepAliveTimeoutMs: number | undefined;
  /** The body's declared length; undefined when chunked, delimited by the close, or absent. */
  contentLength: number | undefined;
}

/** Where a parser delivers what it read. */
export interface ResponseSink {
  /** A final (non-1xx) response head. */
  onHead(head: ResponseHead): void;
  /** A piece of the body, after transfer decoding (a view of the input: copy to keep it). */
  onBody(chunk: Buffer): void;
  /** The response is complete. */
  onComplete(): void;
}

/** The largest status line plus header section accepted (node's default `maxHeaderSize`). */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE = 1024;
const MAX_INTERIM = 32;

type State = 'idle' | 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close';

const HEAD_END = Buffer.from('\r\n\r\n');
// A field line begins with a token and a colon (a token has no colon, so this is the first one).
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/;
// Control characters other than HTAB, CR and LF (those are checked by line splitting).
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const DIGITS = /^\d{1,15}$/;
// llhttp ends a framing header's value at a space only: to it, `chunked<TAB>` is a coding other than chunked.
const TRAILING_TAB = /\t[\t ]*$/;
// Extensions as RFC 9112 and llhttp both read them: no whitespace, names and values not empty.
const CHUNK_LINE = /^([0-9A-Fa-f]{1,13})(?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\[\t\x20-\x7e])*"))?)*$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})/i;

function bad(reason: string): UpstreamError {
  return new UpstreamError('UPSTREAM_BAD_RESPONSE', `the upstream's response is not valid HTTP/1.1: ${reason}`);
}

/** The value of a field line whose colon is at `colon`, without optional whitespace (SP, HTAB) at either end. */
function fieldValue(line: string, colon: number): string {
  let a = colon + 1;
  let b = line.length;
  while (a < b && (line.charCodeAt(a) === 32 || line.charCodeAt(a) === 9)) a++;
  while (b > a && (line.charCodeAt(b - 1) === 32 || line.charCodeAt(b - 1) === 9)) b--;
  return line.slice(a, b);
}

/** Whether the token `name` is `lower` (lower case ASCII letters and `-`) in any case, without a lower-cased copy. */
function isNamed(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < name.length; i++) if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * The status code of a status line (`HTTP/1.x NNN[ reason]`, a code of 100 to 999), or 0 when it is
 * none. Its characters were checked by {@link lines}: any reason phrase is one RFC 9112 allows.
 */
function statusOf(line: string): number {
  if (line.length < 12 || !line.startsWith('HTTP/1.') || line.charCodeAt(8) !== 32) return 0;
  const minor = line.charCodeAt(7);
  if (minor !== 48 && minor !== 49) return 0;
  if (line.length > 12 && line.charCodeAt(12) !== 32) return 0;
  const a = line.charCodeAt(9) - 48;
  const b = line.charCodeAt(10) - 48;
  const c = line.charCodeAt(11) - 48;
  if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return 0;
  return a * 100 + b * 10 + c;
}

/** Splits a head or trailer section (CRLF-separated lines, no final CRLF) into lines, refusing bare CR or LF. */
function lines(section: string): string[] {
  if (CONTROL.test(section)) throw bad('a control character in the head');
  const out = section.split('\r\n');
  for (const line of out) if (line.includes('\n') || line.includes('\r')) throw bad('a line ended by a bare LF or CR');
  return out;
}

/** Where the colon of a field line is; refuses obs-fold and names that are not tokens. */
function colonOf(line: string): number {
  if (!FIELD_NAME.test(line)) throw bad(line.startsWith(' ') || line.startsWith('\t') ? 'a folded header line (obs-fold)' : `a header line that is no "name: value": ${JSON.stringify(line.slice(0, 60))}`);
  return line.indexOf(':');
}

/** One parser per connection; {@link expect} before each request's response. */
export class ResponseParser {
  private state: State = 'idle';
  private headOnly = false;
  private interim = 0;
  /** Head or trailer bytes so far, when they came in pieces. */
  private pending: Buffer | undefined;
  /** A chunk-size line so far, when it came in pieces. */
  private line = '';
  /** Bytes left of the body (`length`) or of the current chunk (`chunk-data`); CRLF bytes left (`chunk-end`). */
  private remaining = 0;
  /** A response was completed by the current `execute` call. */
  private completed = false;
  /** The sink asked for no more until {@link resume}; bytes read meanwhile wait in `held`. */
  private paused = false;
  private held: Buffer | undefined;

  constructor(private readonly sink: ResponseSink) {}

  /** Whether a response is being read (a request is outstanding). */
  get busy(): boolean {
    return this.state !== 'idle';
  }

  /** The body runs until the connection closes (no length, not chunked). */
  get closeDelimited(): boolean {
    return this.state === 'close';
  }

  /** A request went out: parse its response. `method` HEAD means a head and no body. */
  expect(method: string): void {
    this.state = 'head';
    this.headOnly = method === 'HEAD';
    this.interim = 0;
    this.pending = undefined;
    this.paused = false;
    this.held = undefined;
  }

  /** Delivers nothing more (the rest of the bytes given wait) until {@link resume}. */
  pause(): void {
    this.paused = true;
  }

  /** Delivers what waited since {@link pause}; throws as {@link execute} does. */
  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) this.execute(held);
  }

  /** Reads bytes from the connection; throws {@link UpstreamError} on a response it refuses. */
  execute(data: Buffer): void {
    let at = 0;
    this.completed = false;
    if (this.paused) {
      this.held = this.held === undefined ? data : Buffer.concat([this.held, data]);
      return;
    }
    while (at < data.length) {
      if (this.paused) {
        this.held = data.subarray(at);
        return;
      }
      // Bytes after a response, before the router sent another request, belong to no request: a
      // new request sent from `onComplete` must not take them for its answer.
      if (this.completed) throw bad(`${data.length - at} bytes after the end of a response`);
      switch (this.state) {
        case 'idle':
          throw bad(`${data.length - at} bytes with no request outstanding`);
        case 'head':
          at = this.readHead(data, at);
          break;
        case 'length':
          at = this.deliver(data, at);
          if (this.remaining === 0) this.complete();
          break;
        case 'close':
          this.sink.onBody(at === 0 ? data : data.subarray(at));
          at = data.length;
          break;
        case 'chunk-size':
          at = this.readChunkSize(data, at);
          break;
        case 'chunk-data':
          at = this.deliver(data, at);
          if (this.remaining === 0) {
            this.state = 'chunk-end';
            this.remaining = 2;
          }
          break;
        case 'chunk-end': {
          const expected = this.remaining === 2 ? 13 : 10;
          if (data[at] !== expected) throw bad('chunk data not followed by CRLF');
          at++;
          if (--this.remaining === 0) this.state = 'chunk-size';
          break;
        }
        case 'trailers':
          at = this.readTrailers(data, at);
          break;
      }
    }
  }

  /** The connection closed: ends a body delimited by the close; throws when a response was cut short. */
  finish(): void {
    if (this.held !== undefined) {
      // The close came while the sink had paused: what it has not read yet is read first.
      this.paused = false;
      this.resume();
    }
    if (this.state === 'idle') return;
    if (this.state === 'close') {
      this.complete();
      return;
    }
    throw new UpstreamError('UPSTREAM_CLOSED', this.state === 'head' && this.pending === undefined ? 'the upstream closed the connection before it answered' : 'the upstream closed the connection in the middle of its response');
  }

  /** Collects `data` from `at` into `pending` up to a blank line; the section (without its blank line) and where the rest begins. */
  private section(data: Buffer, at: number, what: string): { text: string; next: number } | undefined {
    let buf: Buffer;
    let searchFrom: number;
    if (this.pending === undefined) {
      buf = at === 0 ? data : data.subarray(at);
      searchFrom = 0;
    } else {
      searchFrom = Math.max(0, this.pending.length - 3);
      buf = Buffer.concat([this.pending, data.subarray(at)]);
    }
    const end = buf.indexOf(HEAD_END, searchFrom);
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw bad(`${what} larger than ${MAX_HEAD_BYTES} bytes`);
      // A sender ending lines with bare LFs would never send CRLFCRLF: refuse now, not at the limit.
      if (buf.includes('\n\n', searchFrom) || buf.includes('\n\r\n', searchFrom)) throw bad('a line ended by a bare LF or CR');
      this.pending = buf;
      return undefined;
    }
    if (end + 4 > MAX_HEAD_BYTES) throw bad(`${what} larger than ${MAX_HEAD_BYTES} bytes`);
    const consumedBefore = this.pending === undefined ? 0 : this.pending.length;
    this.pending = undefined;
    return { text: buf.toString('latin1', 0, end), next: at + (end + 4 - consumedBefore) };
  }

  private readHead(data: Buffer, at: number): number {
    const s = this.section(data, at, 'a response head');
    if (s === undefined) return data.length;
    const all = lines(s.text);
    const statusLine = all[0]!;
    const status = statusOf(statusLine);
    if (status === 0) throw bad(`the status line ${JSON.stringify(statusLine.slice(0, 60))}`);
    const minor = statusLine.charCodeAt(7) === 49;
    const headers: string[] = [];
    let contentLength: number | undefined;
    let transferEncoding: string | undefined;
    let close = !minor;
    let keepAliveTimeoutMs: number | undefined;
    for (let i = 1; i < all.length; i++) {
      const line = all[i]!;
      const colon = colonOf(line);
      const name = line.slice(0, colon);
      const value = fieldValue(line, colon);
      headers.push(name, value);
      switch (name.length) {
        case 10:
          if (isNamed(name, 'connection')) {
            for (const t of value.toLowerCase().split(',')) {
              const token = t.trim();
              if (token === 'close') close = true;
              else if (token === 'keep-alive' && !minor) close = false;
            }
          } else if (isNamed(name, 'keep-alive')) {
            const t = KEEP_ALIVE_TIMEOUT.exec(value);
            if (t) keepAliveTimeoutMs = Number(t[1]) * 1000;
          }
          break;
        case 14:
          if (isNamed(name, 'content-length')) {
            if (contentLength !== undefined) throw bad('more than one Content-Length');
            if (!DIGITS.test(value) || TRAILING_TAB.test(line)) throw bad(`Content-Length ${JSON.stringify(value.slice(0, 30))}`);
            contentLength = Number(value);
          }
          break;
        case 17:
          if (isNamed(name, 'transfer-encoding')) {
            if (TRAILING_TAB.test(line)) throw bad('a tab after a Transfer-Encoding');
            transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
          }
          break;
      }
    }
    // Whatever the status: a response with both is no response a conforming sender sends.
    if (transferEncoding !== undefined && contentLength !== undefined) throw bad('both Transfer-Encoding and Content-Length');
    if (status < 200) {
      if (status === 101) throw bad('101 Switching Protocols to a request that asked for no upgrade');
      // One that closes the connection (`Connection: close`, HTTP/1.0) is followed by no final response.
      if (close) throw bad('an interim (1xx) response that closes the connection');
      // Interim responses (100 Continue, 103 Early Hints) are not forwarded: the final one follows.
      if (++this.interim > MAX_INTERIM) throw bad(`more than ${MAX_INTERIM} interim (1xx) responses`);
      return s.next;
    }
    const noBody = this.headOnly || status === 204 || status === 304;
    if (transferEncoding !== undefined && !noBody && transferEncoding.toLowerCase() !== 'chunked') {
      throw bad(`the transfer coding ${JSON.stringify(transferEncoding.slice(0, 40))} (only chunked is read)`);
    }
    const chunked = transferEncoding !== undefined && !noBody;
    const closeDelimited = !noBody && !chunked && contentLength === undefined;
    this.sink.onHead({ status, statusText: statusLine.length > 13 ? statusLine.slice(13) : '', headers, keepAlive: !close && !closeDelimited, keepAliveTimeoutMs, contentLength: noBody ? undefined : contentLength });
    if (noBody || contentLength === 0) this.complete();
    else if (chunked) {
      this.state = 'chunk-size';
      this.line = '';
    } else if (contentLength !== undefined) {
      this.state = 'length';
      this.remaining = contentLength;
    } else this.state = 'close';
    return s.next;
  }

  private readChunkSize(data: Buffer, at: number): number {
    const lf = data.indexOf(10, at);
    const end = lf < 0 ? data.length : lf + 1;
    this.line += data.toString('latin1', at, end);
    if (this.line.length > MAX_CHUNK_LINE) throw bad(`a chunk-size line longer than ${MAX_CHUNK_LINE} bytes`);
    if (lf < 0) return end;
    const line = this.line;
    this.line = '';
    if (line.length < 2 || line.charCodeAt(line.length - 2) !== 13) throw bad('a chunk-size line ended by a bare LF');
    const text = line.slice(0, -2);
    const m = CONTROL.test(text) || text.includes('\r') ? null : CHUNK_LINE.exec(text);
    if (!m) throw bad(`the chunk-size line ${JSON.stringify(text.slice(0, 40))}`);
    const size = parseInt(m[1]!, 16);
    if (size === 0) {
      this.state = 'trailers';
      return end;
    }
    this.state = 'chunk-data';
    this.remaining = size;
    return end;
  }

  private readTrailers(data: Buffer, at: number): number {
    // Most chunked responses have no trailer: the last chunk's line is followed by CRLF at once.
    if (this.pending === undefined && data.length - at >= 2 && data[at] === 13 && data[at + 1] === 10) {
      this.complete();
      return at + 2;
    }
    if (this.pending !== undefined && this.pending.length === 1 && this.pending[0] === 13) {
      if (data[at] !== 10) throw bad('a trailer line ended by a bare CR');
      this.pending = undefined;
      this.complete();
      return at + 1;
    }
    if (this.pending === undefined && data.length - at === 1 && data[at] === 13) {
      this.pending = Buffer.from([13]);
      return at + 1;
    }
    // Trailer fields are read and dropped: the client's response has already begun.
    // The section is searched with the last-chunk line's CRLF before it, so that a first trailer
    // line found with CRLFCRLF after it is whole; that empty first line is then skipped.
    this.pending ??= Buffer.from('\r\n');
    const s = this.section(data, at, 'a trailer section');
    if (s === undefined) return data.length;
    for (const line of lines(s.text).slice(1)) colonOf(line);
    this.complete();
    return s.next;
  }

  /** Hands the sink up to `remaining` bytes of `data` from `at`; where the rest begins. */
  private deliver(data: Buffer, at: number): number {
    const n = Math.min(this.remaining, data.length - at);
    this.remaining -= n;
    this.sink.onBody(at === 0 && n === data.length ? data : data.subarray(at, at + n));
    return at + n;
  }

  private complete(): void {
    this.completed = true;
    this.state = 'idle';
    this.pending = undefined;
    this.sink.onComplete();
  }
}
