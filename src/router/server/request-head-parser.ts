/**
 * A strict reader of HTTP/1.1 request heads, for a router fast path that serves the common request
 * (a GET or HEAD without a body) without node:http's server, and hands every other connection to
 * node:http untouched. `npm run bench -- router` measures the headroom: its "raw node" row, node
 * forwarding over raw sockets with no HTTP server, spends about half the CPU per request of a
 * router on node:http's server side.
 *
 * It reads a subset of RFC 9112 and calls everything else `unsupported`, never an error: a request
 * it does not read is parsed by node:http from the same bytes, which answers malformed ones as
 * it always did. So what it must never do is read a head differently from llhttp (what
 * `request-head-parser.fuzz.test.ts` checks on generated input). Outside the subset:
 * - a line ended by a bare LF or CR, obs-fold, a control character or obs-text anywhere;
 * - a method that is no token; a request target that is not origin-form (absolute-form,
 *   authority-form, `*`), or holds a character outside RFC 3986's (`#`, `"`, `\`, `{` …);
 * - a version other than `HTTP/1.1` and `HTTP/1.0`; more than one space between the parts;
 * - a field name that is no token, whitespace before its colon;
 * - a head over {@link MAX_REQUEST_HEAD_BYTES} or with more than {@link MAX_REQUEST_FIELDS} fields.
 */

/** A request head as the fast path routes it. */
export interface RequestHead {
  method: string;
  /** The origin-form target as sent. */
  target: string;
  /** `1.1` or `1.0`. */
  version: '1.1' | '1.0';
  /** Flat name/value pairs: names as sent, values without surrounding whitespace, in order. */
  rawHeaders: string[];
  /** Bytes of the head, its final empty line included: where the body or the next request starts. */
  headBytes: number;
}

/** What {@link parseRequestHead} made of the bytes so far. */
export type RequestHeadResult =
  | { kind: 'head'; head: RequestHead }
  /** The head is not complete yet (and not over the size limit). */
  | { kind: 'incomplete' }
  /** Outside the subset: leave the connection to node:http; `why` is for logs and tests. */
  | { kind: 'unsupported'; why: string };

/** Request line plus field section read at most; larger heads go to node:http (its limit is 16 KiB). */
export const MAX_REQUEST_HEAD_BYTES = 8 * 1024;
/** Field lines read at most. */
export const MAX_REQUEST_FIELDS = 64;

/** The version and line end as they must be (byte 7, the minor version, may also be `0`). */
const VERSION_LINE = 'HTTP/1.1\r\n';
const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

// RFC 9110 tchar.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;
// RFC 3986 pchar, '/' and '?' (and '%' of pct-encoded, whose digits llhttp does not check either).
const TARGET = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%") TARGET[c.charCodeAt(0)] = 1;

const unsupported = (why: string): RequestHeadResult => ({ kind: 'unsupported', why });

/**
 * Reads the request head at the start of `buf`. Pure: call it again with more bytes while it says
 * `incomplete`.
 */
export function parseRequestHead(buf: Buffer): RequestHeadResult {
  const limit = Math.min(buf.length, MAX_REQUEST_HEAD_BYTES);
  // Request line: method SP target SP version CRLF.
  let i = 0;
  while (i < limit && buf[i]! < 128 && TCHAR[buf[i]!] === 1) i++;
  if (i === limit) return incompleteOrTooLarge(buf);
  if (i === 0) return unsupported('the request line does not begin with a method');
  if (buf[i] !== SP) return unsupported('the method is no token');
  const method = buf.toString('latin1', 0, i);
  const targetStart = ++i;
  if (i < limit && buf[i] !== 47 /* / */) return unsupported('the request target is not origin-form');
  while (i < limit && buf[i]! < 128 && TARGET[buf[i]!] === 1) i++;
  if (i === limit) return incompleteOrTooLarge(buf);
  if (buf[i] !== SP) return unsupported('a character the fast path does not take in the request target');
  const target = buf.toString('latin1', targetStart, i);
  const versionStart = i + 1;
  // Byte by byte, so that a wrong one is decided on before the rest arrives.
  for (let k = 0; k < VERSION_LINE.length; k++) {
    const at = versionStart + k;
    if (at >= limit) return incompleteOrTooLarge(buf);
    const c = buf[at]!;
    if (k === 7 ? c !== 49 && c !== 48 : c !== VERSION_LINE.charCodeAt(k)) {
      return unsupported(k < 8 ? 'a version other than HTTP/1.1 and HTTP/1.0' : 'the request line does not end with CRLF after the version');
    }
  }
  const version = buf[versionStart + 7] === 49 ? '1.1' : '1.0';
  i = versionStart + VERSION_LINE.length;

  const rawHeaders: string[] = [];
  for (;;) {
    if (i >= limit) return incompleteOrTooLarge(buf);
    if (buf[i] === CR) {
      if (i + 1 >= limit) return incompleteOrTooLarge(buf);
      if (buf[i + 1] !== LF) return unsupported('a bare CR');
      return { kind: 'head', head: { method, target, version, rawHeaders, headBytes: i + 2 } };
    }
    if (rawHeaders.length >= MAX_REQUEST_FIELDS * 2) return unsupported(`more than ${MAX_REQUEST_FIELDS} field lines`);
    // field-name ":" OWS field-value OWS CRLF
    const nameStart = i;
    while (i < limit && buf[i]! < 128 && TCHAR[buf[i]!] === 1) i++;
    if (i === limit) return incompleteOrTooLarge(buf);
    if (i === nameStart) return unsupported(buf[i] === SP || buf[i] === HTAB ? 'obs-fold' : 'a field line that does not begin with a token');
    if (buf[i] !== 58 /* : */) return unsupported('a field name that is no token, or whitespace before its colon');
    const name = buf.toString('latin1', nameStart, i);
    i++;
    let valueStart = -1;
    let valueEnd = -1;
    for (;;) {
      if (i === limit) return incompleteOrTooLarge(buf);
      const c = buf[i]!;
      if (c === CR) break;
      if (c === SP || c === HTAB) {
        i++;
        continue;
      }
      // VCHAR only: controls, DEL and obs-text are left to node:http.
      if (c < 0x21 || c > 0x7e) return unsupported(c === LF ? 'a bare LF' : 'a control character or obs-text in a field value');
      if (valueStart < 0) valueStart = i;
      valueEnd = ++i;
    }
    if (i + 1 >= limit) return incompleteOrTooLarge(buf);
    if (buf[i + 1] !== LF) return unsupported('a bare CR');
    rawHeaders.push(name, valueStart < 0 ? '' : buf.toString('latin1', valueStart, valueEnd));
    i += 2;
  }
}

function incompleteOrTooLarge(buf: Buffer): RequestHeadResult {
  return buf.length >= MAX_REQUEST_HEAD_BYTES ? unsupported(`a head over ${MAX_REQUEST_HEAD_BYTES} bytes`) : { kind: 'incomplete' };
}
