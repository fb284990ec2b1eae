import { describe, expect, it } from 'vitest';
import { clientResponseHeaders } from './headers.js';

const BASE = ['Content-Type', 'text/plain', 'Content-Length', '5'];

// upstream headers, extra, what the client gets
const ROWS: [label: string, raw: string[], extra: string[] | undefined, expected: string[]][] = [
  ['no Connection header', [...BASE, 'Date', 'x'], undefined, [...BASE, 'Date', 'x']],
  ['keep-alive, as node sends it', [...BASE, 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5'], undefined, BASE],
  ['Keep-Alive in capitals, with spaces', [...BASE, 'Connection', ' Keep-Alive ', 'Keep-Alive', 'timeout=5'], ['x-graylane-revision', 'v2'], [...BASE, 'x-graylane-revision', 'v2']],
  ['close', [...BASE, 'Connection', 'close'], undefined, BASE],
  ['a header named hop-by-hop by Connection', [...BASE, 'X-Private', 'secret', 'Connection', 'x-private'], undefined, BASE],
  ['several names, one of them hop-by-hop already', [...BASE, 'X-Trace', 't', 'X-Kept', 'k', 'Connection', 'keep-alive, X-Trace'], ['x-e', '1'], [...BASE, 'X-Kept', 'k', 'x-e', '1']],
  ['an empty Connection value', [...BASE, 'Connection', ''], undefined, BASE],
  ['transfer-encoding and the other hop-by-hop headers', [...BASE, 'Transfer-Encoding', 'chunked', 'Trailer', 'x', 'Upgrade', 'h2c', 'TE', 'trailers'], undefined, BASE],
];

describe('clientResponseHeaders', () => {
  it.each(ROWS)('%s', (_label, raw, extra, expected) => {
    expect(clientResponseHeaders(raw, extra)).toEqual(expected);
  });
});
