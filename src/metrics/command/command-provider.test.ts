import { describe, expect, it } from 'vitest';
import { describeProviderConformance, metricOf } from '../provider.case.test.js';
import { CommandMetricProvider } from './command-provider.js';

const node = process.execPath;

describeProviderConformance('command', () => Promise.resolve({
  provider: new CommandMetricProvider(),
  good: metricOf({ command: { command: [node, '-e', 'console.log(JSON.stringify({ ratio: 0.99 }))'] } }),
  failing: metricOf({ command: { command: ['/nonexistent/graylane-probe'] } }),
  invalid: metricOf({ command: { command: [''] } }),
  slow: metricOf({ command: { command: [node, '-e', 'setTimeout(() => {}, 60000)'], timeoutSeconds: 1 } }),
  teardown: async () => {},
}));

describe('command provider', () => {
  const provider = new CommandMetricProvider();
  const run = (command: string[], extra: Record<string, unknown> = {}) =>
    provider.measure({ metric: metricOf({ command: { command, ...extra } }), args: {}, signal: new AbortController().signal, now: Date.now() });

  it.each([
    ['JSON', 'console.log("[0.5, 1]")', [0.5, 1]],
    ['a number', 'console.log(42)', 42],
    ['text', 'console.log("ok")', 'ok'],
    ['nothing', '', null],
  ] as const)('stdout with %s is the result', async (_what, script, value) => {
    const r = await run([node, '-e', script]);
    expect(r.value).toEqual(value);
    expect(r.phase).toBeUndefined();
    expect(r.metadata?.exitCode).toBe('0');
  });

  it('a non-zero exit makes the measurement Failed, with stderr in the message', async () => {
    const r = await run([node, '-e', 'console.error("db down"); process.exit(3)']);
    expect(r).toMatchObject({ phase: 'Failed', metadata: { exitCode: '3' } });
    expect(r.message).toMatch(/exited with code 3: db down/);
  });

  it('runs without a shell and passes only the given environment', async () => {
    process.env.GRAYLANE_TEST_SECRET = 'leak';
    const r = await run([node, '-e', 'console.log(JSON.stringify([process.argv[1], process.env.GRAYLANE_TEST_SECRET ?? null, process.env.GIVEN]))', '$(echo hi); rm -rf /'], { env: { GIVEN: 'yes' } });
    delete process.env.GRAYLANE_TEST_SECRET;
    expect(r.value).toEqual(['$(echo hi); rm -rf /', null, 'yes']);
  });
});
