import { describe, expect, it } from 'vitest';
import { fastPathRefusal } from './fast-path-request.js';
import { MAX_REQUEST_FIELDS, MAX_REQUEST_HEAD_BYTES, parseRequestHead, type RequestHeadResult } from './request-head-parser.js';

const parse = (s: string): RequestHeadResult => parseRequestHead(Buffer.from(s, 'latin1'));
const kind = (s: string): string => {
  const r = parse(s);
  return r.kind === 'head' ? 'head' : r.kind;
};

describe('parseRequestHead', () => {
  it('reads a GET: method, target, version, fields as sent with values trimmed, and where the head ends', () => {
    const wire = 'GET /a/b?c=1&d=%20 HTTP/1.1\r\nHost: example.test\r\nX-Two:  spaced \t\r\nEmpty:\r\nCookie: a=1; b=2\r\n\r\nGET /next HTTP/1.1\r\n';
    expect(parse(wire)).toEqual({
      kind: 'head',
      head: { method: 'GET', target: '/a/b?c=1&d=%20', version: '1.1', rawHeaders: ['Host', 'example.test', 'X-Two', 'spaced', 'Empty', '', 'Cookie', 'a=1; b=2'], headBytes: wire.indexOf('GET /next') },
    });
    expect(parse('HEAD / HTTP/1.0\r\n\r\n')).toMatchObject({ kind: 'head', head: { method: 'HEAD', version: '1.0', rawHeaders: [], headBytes: 19 } });
  });

  it('says incomplete at every cut of a valid head before its end', () => {
    const wire = 'GET /path?q HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n';
    for (let cut = 0; cut < wire.length; cut++) expect([cut, kind(wire.slice(0, cut))]).toEqual([cut, 'incomplete']);
    expect(kind(wire)).toBe('head');
  });

  // Each row: what is sent, and why the fast path leaves it to node:http (which parses it or refuses it).
  it.each([
    ['a bare LF ending the request line', 'GET / HTTP/1.1\nHost: h\r\n\r\n', 'CRLF'],
    ['a bare LF ending a field line', 'GET / HTTP/1.1\r\nHost: h\n\r\n', 'bare LF'],
    ['a bare CR in a field line', 'GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n', 'bare CR'],
    ['a bare CR ending the head', 'GET / HTTP/1.1\r\nHost: h\r\n\rX', 'bare CR'],
    ['obs-fold (a continuation line)', 'GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: h\r\n\r\n', 'obs-fold'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nHost: h\r\n\r\n', 'before its colon'],
    ['an empty field name', 'GET / HTTP/1.1\r\n: x\r\nHost: h\r\n\r\n', 'begin with a token'],
    ['a field name that is no token', 'GET / HTTP/1.1\r\nX(y): 1\r\nHost: h\r\n\r\n', 'no token'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nX: a\x00b\r\nHost: h\r\n\r\n', 'control character'],
    ['obs-text in a value', 'GET / HTTP/1.1\r\nX: caf\xe9\r\nHost: h\r\n\r\n', 'obs-text'],
    ['DEL in a value', 'GET / HTTP/1.1\r\nX: a\x7f\r\nHost: h\r\n\r\n', 'control character'],
    ['two spaces after the method', 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 'origin-form'],
    ['two spaces after the target', 'GET /  HTTP/1.1\r\nHost: h\r\n\r\n', 'other than HTTP/1.1'],
    ['a space before CRLF on the request line', 'GET / HTTP/1.1 \r\nHost: h\r\n\r\n', 'CRLF'],
    ['a tab as a separator', 'GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n', 'no token'],
    ['an absolute-form target', 'GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n', 'origin-form'],
    ['the asterisk form', 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', 'origin-form'],
    ['a fragment in the target', 'GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n', 'request target'],
    ['a quote in the target', 'GET /a"b HTTP/1.1\r\nHost: h\r\n\r\n', 'request target'],
    ['a backslash in the target', 'GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n', 'request target'],
    ['obs-text in the target', 'GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n', 'request target'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', 'other than HTTP/1.1'],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: h\r\n\r\n', 'other than HTTP/1.1'],
    ['a version in lower case', 'GET / http/1.1\r\nHost: h\r\n\r\n', 'other than HTTP/1.1'],
    ['HTTP/0.9 (no version)', 'GET /\r\n\r\n', 'request target'],
    ['a request line starting with CRLF', '\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', 'begin with a method'],
    ['a method that is no token', 'G(T / HTTP/1.1\r\nHost: h\r\n\r\n', 'no token'],
  ])('%s is left to node:http', (_what, wire, why) => {
    const r = parse(wire);
    expect(r.kind).toBe('unsupported');
    expect(r.kind === 'unsupported' && r.why).toContain(why);
  });

  it('decides on a wrong byte as it arrives, without waiting for the rest of the head', () => {
    expect(parse('GET / HTTP/1.1\r\n\n')).toMatchObject({ kind: 'unsupported', why: expect.stringContaining('token') });
    expect(parse('GET / X')).toMatchObject({ kind: 'unsupported', why: expect.stringContaining('version') });
    expect(parse('GET / HTTP/1.1\r\r')).toMatchObject({ kind: 'unsupported', why: expect.stringContaining('CRLF') });
    expect(parse('GET / HTTP/1.1\r\nHost: h\r\n\r')).toEqual({ kind: 'incomplete' });
  });

  it(`leaves heads over ${MAX_REQUEST_HEAD_BYTES} bytes and more than ${MAX_REQUEST_FIELDS} fields to node:http, complete or not`, () => {
    const long = `GET /${'a'.repeat(MAX_REQUEST_HEAD_BYTES)} HTTP/1.1\r\nHost: h\r\n\r\n`;
    expect(parse(long)).toMatchObject({ kind: 'unsupported', why: expect.stringContaining('over') });
    expect(parse(long.slice(0, MAX_REQUEST_HEAD_BYTES))).toMatchObject({ kind: 'unsupported' });
    const many = `GET / HTTP/1.1\r\nHost: h\r\n${'X: 1\r\n'.repeat(MAX_REQUEST_FIELDS)}\r\n`;
    expect(parse(many)).toMatchObject({ kind: 'unsupported', why: expect.stringContaining('field lines') });
  });
});

describe('fastPathRefusal', () => {
  const head = (s: string) => {
    const r = parse(s);
    if (r.kind !== 'head') throw new Error(`not a head: ${JSON.stringify(r)}`);
    return r.head;
  };
  it.each([
    ['GET with one Host', 'GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n', undefined],
    ['HEAD with one host in another case', 'HEAD /x HTTP/1.1\r\nhOsT: h\r\n\r\n', undefined],
    ['Connection: close', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', undefined],
    ['POST', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', 'method POST'],
    ['a GET with Content-Length', 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n', 'content-length'],
    ['a GET with Content-Length: 0', 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', 'content-length'],
    ['a GET with Transfer-Encoding', 'GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'transfer-encoding'],
    ['Content-Length and Transfer-Encoding', 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 'content-length'],
    ['an upgrade', 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 'upgrade'],
    ['Expect: 100-continue', 'GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n', 'expect'],
    ['h2c settings', 'GET / HTTP/1.1\r\nHost: h\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n', 'http2-settings'],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: h\r\n\r\n', 'HTTP/1.0'],
    ['no Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 'no Host'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'more than one Host'],
  ])('%s: %s', (_what, wire, refusal) => {
    const why = fastPathRefusal(head(wire));
    if (refusal === undefined) expect(why).toBeUndefined();
    else expect(why).toContain(refusal);
  });
});
