import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ASSET_PATTERN, ReleaseTokenVerifier, signReleaseToken } from './release-token.js';

const secret = 'a-secret-of-16-chars';

describe('release tokens', () => {
  it('are <release>.<generation>.<side>.<first 22 chars of base64url HMAC-SHA256>', () => {
    const mac = createHmac('sha256', secret).update('shop.g1.canary').digest('base64url').slice(0, 22);
    expect(signReleaseToken(secret, { release: 'shop', generation: 'g1', side: 'canary' })).toBe(`shop.g1.canary.${mac}`);
  });

  it('verify to their side only for the same secret, release and generation', () => {
    const v = new ReleaseTokenVerifier(secret, 'shop', 'g1');
    const t = (side: 'stable' | 'canary', over: { release?: string; generation?: string; key?: string } = {}) =>
      signReleaseToken(over.key ?? secret, { release: over.release ?? 'shop', generation: over.generation ?? 'g1', side });
    expect(v.verify(t('stable'))).toBe('stable');
    expect(v.verify(t('canary'))).toBe('canary');
    expect(v.verify(t('canary', { release: 'blog' }))).toBeUndefined();
    expect(v.verify(t('canary', { generation: 'g2' }))).toBeUndefined();
    expect(v.verify(t('canary', { key: 'another-secret-16+' }))).toBeUndefined();
    expect(v.verify(`${t('canary')}x`)).toBeUndefined();
    expect(v.verify('')).toBeUndefined();
  });
});

describe('default asset pattern', () => {
  const re = new RegExp(DEFAULT_ASSET_PATTERN);
  it.each([
    ['/assets/app.3f9a1c2b7d.js', true],
    ['/static/js/main.8e4f2a1b.chunk.js', true],
    ['/assets/app.3f9a1c2b.js.map', true],
    ['/static/css/main.8e4f2a1b.css', true],
    ['/assets/index-BXk3z9aQ.css', true],
    ['/assets/vendor-a1_b2-c3.js', true],
    ['/app.js', false],
    ['/img/logo.png', false],
    ['/assets/app.3f9a.js', false],
    ['/api/users/12345678', false],
  ])('%s → %s', (path, hashed) => {
    expect(re.test(path)).toBe(hashed);
  });
});
