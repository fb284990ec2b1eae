import { describe, expect, it } from 'vitest';
import { ProcessRuntime } from './process/process-runtime.js';
import { createRuntime, isRuntimeType, runtimeTypeOf, runtimeTypes } from './registry.js';
import { StaticRuntime } from './static/static-runtime.js';

describe('runtime registry', () => {
  it('creates adapters by type', async () => {
    const p = createRuntime('process', { stateDir: '/tmp/graylane-registry-test', baseDir: '.' });
    const s = createRuntime('static', {});
    expect(p).toBeInstanceOf(ProcessRuntime);
    expect(s).toBeInstanceOf(StaticRuntime);
    expect([p.type, s.type]).toEqual(['process', 'static']);
    await p.shutdown({ stopInstances: false });
    expect(runtimeTypes()).toEqual(['process', 'static']);
    expect(isRuntimeType('kubernetes')).toBe(false);
  });

  it('names the known types for an unknown one', () => {
    expect(() => createRuntime('kubernetes' as 'static', {})).toThrow(/unknown runtime type "kubernetes"; known: process, static/);
  });

  it.each([
    [{ name: 'a', process: { command: ['x'] } }, 'process'],
    [{ name: 'a', targets: ['127.0.0.1:80'] }, 'static'],
  ])('picks the adapter of %j', (service, type) => expect(runtimeTypeOf(service)).toBe(type));

  it('rejects a service with both or neither', () => {
    expect(() => runtimeTypeOf({ name: 'a', process: { command: ['x'] }, targets: ['h:1'] })).toThrow(/service a has both "process" and "targets"/);
    expect(() => runtimeTypeOf({ name: 'a' })).toThrow(/service a has neither "process" nor "targets"/);
  });
});
