import { describe, expect, it } from 'vitest';
import { CookieJar } from './cookie-jar.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('CookieJar', () => {
  it.each([
    // set-cookie values (received from `from`),                         request url,                        expected Cookie header
    [['a=1'], 'http://h.test/', 'http://h.test/x', 'a=1'],
    [['a=1; Path=/'], 'http://h.test/', 'http://other.test/', undefined],
    [['a=1; Path=/api'], 'http://h.test/', 'http://h.test/api/products', 'a=1'],
    [['a=1; Path=/api'], 'http://h.test/', 'http://h.test/apiary', undefined],
    [['a=1; Path=/api'], 'http://h.test/', 'http://h.test/', undefined],
    [['a=1'], 'http://h.test/api/products', 'http://h.test/api/cart', 'a=1'], // default path /api
    [['a=1'], 'http://h.test/api/products', 'http://h.test/', undefined],
    [['a=1; Max-Age=10'], 'http://h.test/', 'http://h.test/', 'a=1'],
    [['a=1; Max-Age=0'], 'http://h.test/', 'http://h.test/', undefined],
    [['a=1', 'a=; Max-Age=0'], 'http://h.test/', 'http://h.test/', undefined], // deletion
    [['a=1; Expires=Thu, 01 Jan 2026 00:00:10 GMT'], 'http://h.test/', 'http://h.test/', 'a=1'],
    [['a=1; Expires=Wed, 31 Dec 2025 23:59:59 GMT'], 'http://h.test/', 'http://h.test/', undefined],
    [['a=1; Max-Age=10; Expires=Wed, 31 Dec 2025 23:59:59 GMT'], 'http://h.test/', 'http://h.test/', 'a=1'], // Max-Age wins
    [['a=1', 'a=2'], 'http://h.test/', 'http://h.test/', 'a=2'], // replaced
    [['a=1; Path=/', 'b=2; Path=/api'], 'http://h.test/', 'http://h.test/api/x', 'b=2; a=1'], // longer path first
    [['a=1; Domain=h.test'], 'http://www.h.test/', 'http://api.h.test/', 'a=1'],
    [['a=1; Domain=evil.test'], 'http://h.test/', 'http://evil.test/', undefined], // not ours to set
    [['a=1'], 'http://www.h.test/', 'http://api.h.test/', undefined], // host-only
    [['a=1; Secure'], 'https://h.test/', 'http://h.test/', undefined],
    [['a=1; Secure'], 'https://h.test/', 'https://h.test/', 'a=1'],
    [['a=x=y; HttpOnly; SameSite=Lax'], 'http://h.test/', 'http://h.test/', 'a=x=y'],
    [['novalue', '=v', '; Path=/'], 'http://h.test/', 'http://h.test/', undefined], // malformed, ignored
    [['a=1'], 'http://127.0.0.1:8080/', 'http://127.0.0.1:9090/', 'a=1'], // ports do not separate cookies
  ] as const)('%j from %s, sent to %s → %s', (setCookies, from, to, want) => {
    const jar = new CookieJar();
    jar.setCookies([...setCookies], from, NOW);
    expect(jar.cookieHeader(to, NOW)).toBe(want);
  });

  it('forgets a cookie once it expires', () => {
    const jar = new CookieJar();
    jar.setCookie('graylane-release=canary; Path=/; Max-Age=60', 'http://h.test/', NOW);
    expect(jar.get('graylane-release', 'http://h.test/', NOW + 59_000)).toBe('canary');
    expect(jar.get('graylane-release', 'http://h.test/', NOW + 60_000)).toBeUndefined();
    expect(jar.size).toBe(0);
  });

  it('clears', () => {
    const jar = new CookieJar();
    jar.setCookie('a=1', 'http://h.test/', NOW);
    jar.clear();
    expect(jar.cookieHeader('http://h.test/', NOW)).toBeUndefined();
  });
});
