/**
 * The errors of src/kube share one base (kube-error.ts): what a caller or a log line reads of
 * them (class, name, code, message, cause and each class's own fields) is the same as before.
 */
import { describe, expect, it } from 'vitest';
import { InformerError } from '../../src/kube/informer.js';
import { KubeConfigError } from '../../src/kube/kube-config.js';
import { KubeError } from '../../src/kube/kube-error.js';
import { LeaderElectionError } from '../../src/kube/leader-election.js';
import { MicroTimeError, parseMicroTime } from '../../src/kube/micro-time.js';

describe('the errors of src/kube', () => {
  const cause = new Error('HTTP 500');

  it.each([
    ['KubeConfigError', new KubeConfigError('unknown-context', 'no context "prod" in ~/.kube/config', { cause }), 'unknown-context', 'no context "prod" in ~/.kube/config'],
    ['LeaderElectionError', new LeaderElectionError('request-failed', 'renewing lease default/x failed: HTTP 500', { cause }), 'request-failed', 'renewing lease default/x failed: HTTP 500'],
    ['InformerError', new InformerError('list-failed', 'list of /api/v1/pods failed: HTTP 500', 400, { cause }), 'list-failed', 'list of /api/v1/pods failed: HTTP 500'],
  ] as const)('%s keeps its name, code, message and cause', (name, error, code, message) => {
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(KubeError);
    expect(error).toMatchObject({ name, code, message });
    expect(error.cause).toBe(cause);
    expect(String(error)).toBe(`${name}: ${message}`);
    expect(error.stack?.startsWith(`${name}: ${message}`)).toBe(true);
  });

  it('InformerError keeps its retry delay, undefined when it does not retry', () => {
    expect(new InformerError('watch-failed', 'watch failed', 800).retryInMs).toBe(800);
    expect(new InformerError('stopped', 'stopped').retryInMs).toBeUndefined();
    expect(new InformerError('stopped', 'stopped').cause).toBeUndefined();
  });

  it('MicroTimeError names the value it could not read, with its one code', () => {
    let thrown: unknown;
    try {
      parseMicroTime('yesterday');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MicroTimeError);
    expect(thrown).toMatchObject({ name: 'MicroTimeError', code: 'invalid-micro-time', value: 'yesterday', message: 'not a MicroTime: "yesterday"' });
  });
});
