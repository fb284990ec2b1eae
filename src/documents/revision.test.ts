import { describe, expect, it } from 'vitest';
import { appServiceRevision, canonicalJson, revisionHash, rolloutRevision } from './index.js';
import type { AppService } from './index.js';

const api: AppService = { name: 'api', replicas: 2, process: { command: ['node', 'server.js'], cwd: './api', env: { VERSION: 'v1', MODE: 'prod' } } };

describe('revisionHash', () => {
  it('is 10 hex characters and ignores key order at every level', () => {
    const a = revisionHash({ spec: { containers: [{ name: 'a', image: 'x:1' }] }, metadata: { labels: { app: 'a', tier: 'web' } } });
    const b = revisionHash({ metadata: { labels: { tier: 'web', app: 'a' } }, spec: { containers: [{ image: 'x:1', name: 'a' }] } });
    expect(a).toMatch(/^[0-9a-f]{10}$/);
    expect(a).toBe(b);
  });

  it('changes with list order and with any value', () => {
    expect(revisionHash({ command: ['a', 'b'] })).not.toBe(revisionHash({ command: ['b', 'a'] }));
    expect(revisionHash({ image: 'x:1' })).not.toBe(revisionHash({ image: 'x:2' }));
  });

  it('writes canonical JSON with sorted keys and without undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: undefined }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"f":2}]},"b":1}');
  });
});

describe('App service revisions', () => {
  const variants: [string, AppService][] = [
    ['command', { ...api, process: { ...api.process!, command: ['node', 'server2.js'] } }],
    ['env value', { ...api, process: { ...api.process!, env: { VERSION: 'v2', MODE: 'prod' } } }],
    ['env added', { ...api, process: { ...api.process!, env: { VERSION: 'v1', MODE: 'prod', X: '1' } } }],
    ['cwd', { ...api, process: { ...api.process!, cwd: './api2' } }],
  ];
  it.each(variants)('a change of %s is a new revision', (_what, changed) => {
    expect(appServiceRevision(changed)).not.toBe(appServiceRevision(api));
  });

  it('replicas, strategy, probes and env key order are not', () => {
    const same: AppService = {
      ...api,
      replicas: 5,
      strategy: { blueGreen: {} },
      process: { ...api.process!, env: { MODE: 'prod', VERSION: 'v1' }, readinessProbe: { httpGet: { path: '/healthz' } } },
    };
    expect(appServiceRevision(same)).toBe(appServiceRevision(api));
  });

  it('treats a missing env or cwd as empty env and "."', () => {
    const bare: AppService = { name: 'x', process: { command: ['node'] } };
    expect(appServiceRevision(bare)).toBe(appServiceRevision({ name: 'x', process: { command: ['node'], env: {}, cwd: '.' } }));
  });

  it('a Rollout revision is its pod template', () => {
    const template = { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'a', image: 'x:1' }] } };
    const r = { spec: { strategy: { canary: {} }, template, replicas: 3 } };
    expect(rolloutRevision(r)).toBe(revisionHash(template));
    expect(rolloutRevision({ spec: { ...r.spec, replicas: 9 } })).toBe(rolloutRevision(r));
  });
});
