import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ASSET_PATTERN, ReleaseTokenVerifier, signReleaseToken } from './release-token.js';

const secret = 'a-secret-of-16-chars';

describe('release tokens', () => {
  it('are <release>.<generation>.<side>.<first 22 chars of base64url HMAC-SHA256>', () => {
    const mac = createHmac('sha256', secret).update('shop.g1.canary').digest('base64url').slice(0, 22);
    expect(signReleaseToken(secret, { release: 'shop', generation: 'g1', side: 'canary' })).toBe(`shop.g1.canary.${mac}`);
  });

  it('carry a position before the mac: <release>.<generation>.<side>.<position>.<mac>', () => {
    const mac = createHmac('sha256', secret).update('shop.g1.canary.4217').digest('base64url').slice(0, 22);
    expect(signReleaseToken(secret, { release: 'shop', generation: 'g1', side: 'canary', position: 4217 })).toBe(`shop.g1.canary.4217.${mac}`);
    expect(new ReleaseTokenVerifier(secret, 'shop', 'g1').token('canary', 4217)).toBe(`shop.g1.canary.4217.${mac}`);
  });

  it('verify to their side (and position) only for the same secret, release and generation', () => {
    const v = new ReleaseTokenVerifier(secret, 'shop', 'g1');
    const t = (side: 'stable' | 'canary', over: { release?: string; generation?: string; key?: string; position?: number } = {}) =>
      signReleaseToken(over.key ?? secret, { release: over.release ?? 'shop', generation: over.generation ?? 'g1', side, ...(over.position === undefined ? {} : { position: over.position }) });
    // Tokens issued before positions existed keep working.
    expect(v.verify(t('stable'))).toEqual({ side: 'stable', position: undefined });
    expect(v.verify(t('canary'))).toEqual({ side: 'canary', position: undefined });
    expect(v.verify(t('canary', { position: 0 }))).toEqual({ side: 'canary', position: 0 });
    expect(v.verify(t('stable', { position: 9999 }))).toEqual({ side: 'stable', position: 9999 });
    expect(v.verify(t('canary', { release: 'blog' }))).toBeUndefined();
    expect(v.verify(t('canary', { generation: 'g2' }))).toBeUndefined();
    expect(v.verify(t('canary', { generation: 'g2', position: 5 }))).toBeUndefined();
    expect(v.verify(t('canary', { key: 'another-secret-16+' }))).toBeUndefined();
    expect(v.verify(t('canary', { key: 'another-secret-16+', position: 5 }))).toBeUndefined();
    expect(v.verify(`${t('canary')}x`)).toBeUndefined();
    expect(v.verify('')).toBeUndefined();
  });

  it('refuse a position moved, out of range or written another way, even when signed', () => {
    const v = new ReleaseTokenVerifier(secret, 'shop', 'g1');
    const good = v.token('stable', 42);
    const mac = good.split('.').at(-1)!;
    // The mac covers the position: a client cannot move itself.
    expect(v.verify(`shop.g1.stable.43.${mac}`)).toBeUndefined();
    expect(v.verify(`shop.g1.canary.42.${mac}`)).toBeUndefined();
    for (const position of ['10000', '042', '-1', '4.5', '']) {
      const payload = `shop.g1.stable.${position}`;
      const signed = `${payload}.${createHmac('sha256', secret).update(payload).digest('base64url').slice(0, 22)}`;
      expect(v.verify(signed)).toBeUndefined();
    }
  });

  it('recognise genuine tokens of an earlier generation, with or without a position', () => {
    const v = new ReleaseTokenVerifier(secret, 'shop', 'g2');
    expect(v.isEarlierGeneration(signReleaseToken(secret, { release: 'shop', generation: 'g1', side: 'canary' }))).toBe(true);
    expect(v.isEarlierGeneration(signReleaseToken(secret, { release: 'shop', generation: 'g1', side: 'canary', position: 17 }))).toBe(true);
    expect(v.isEarlierGeneration(signReleaseToken('another-secret-16+', { release: 'shop', generation: 'g1', side: 'canary', position: 17 }))).toBe(false);
    expect(v.isEarlierGeneration(v.token('canary', 17))).toBe(false);
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
