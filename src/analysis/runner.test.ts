import { describe, expect, it } from 'vitest';
import type { AnalysisTemplateSpec } from '../documents/schema.js';
import { resolveTemplate } from './judge/template.js';
import { realScheduler, runAnalysis, type RecordedMeasurement, type RunnerProviders, type Scheduler } from './runner.js';

const T0 = 1_700_000_000_000;

/** A fake clock: sleeping jumps time forward at once. */
function fakeScheduler(): Scheduler & { sleeps: number[] } {
  let now = T0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => { sleeps.push(ms); now += Math.max(0, ms); await Promise.resolve(); },
  };
}

/** A provider that answers from a script per metric (values, or errors to throw); the last entry repeats. */
function scripted(script: Record<string, Array<number | Error | 'hang'>>): RunnerProviders & { calls: string[] } {
  const calls: string[] = [];
  const counts: Record<string, number> = {};
  return {
    calls,
    get: () => ({
      measure: ({ metric, signal }) => {
        calls.push(metric.name);
        const list = script[metric.name] ?? [0];
        const i = (counts[metric.name] = (counts[metric.name] ?? 0) + 1) - 1;
        const v = list[Math.min(i, list.length - 1)]!;
        if (v === 'hang') return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
        return v instanceof Error ? Promise.reject(v) : Promise.resolve({ value: v });
      },
    }),
  };
}

const provider = { web: { url: 'http://127.0.0.1/' } };
const template = (spec: AnalysisTemplateSpec) => resolveTemplate({ spec });

describe('runAnalysis (fake clock)', () => {
  it('measures on schedule, records each measurement, and ends Successful', async () => {
    const scheduler = fakeScheduler();
    const seen: RecordedMeasurement[] = [];
    const phases: string[] = [];
    const out = await runAnalysis({
      template: template({ metrics: [{ name: 'm', initialDelay: '5s', interval: '1m', count: 3, successCondition: 'result > 0.9', provider }] }),
      providers: scripted({ m: [0.95] }),
      scheduler,
      onMeasurement: (m) => { seen.push(m); },
      onPhase: (j) => phases.push(j.phase),
    });
    expect(out).toMatchObject({ phase: 'Successful', stopped: false });
    expect(seen.map((m) => [m.startedAtMs - T0, m.phase])).toEqual([[5_000, 'Successful'], [65_000, 'Successful'], [125_000, 'Successful']]);
    expect(phases).toEqual(['Running', 'Successful']);
  });

  it('fails fast when a metric fails, and stops measuring the others', async () => {
    const providers = scripted({ slow: [1], bad: [1, 0] });
    const out = await runAnalysis({
      template: template({ metrics: [
        { name: 'slow', interval: '10m', successCondition: 'result > 0', provider },
        { name: 'bad', interval: '10s', successCondition: 'result > 0', provider },
      ] }),
      providers,
      scheduler: fakeScheduler(),
    });
    expect(out.phase).toBe('Failed');
    expect(out.message).toMatch(/metric "bad" assessed Failed/);
    expect(providers.calls).toEqual(['slow', 'bad', 'bad']);
  });

  it('provider errors become Error measurements up to consecutiveErrorLimit', async () => {
    const out = await runAnalysis({
      template: template({ metrics: [{ name: 'm', interval: '1s', consecutiveErrorLimit: 2, successCondition: 'result > 0', provider }] }),
      providers: scripted({ m: [new Error('prometheus: cannot reach 127.0.0.1:1')] }),
      scheduler: fakeScheduler(),
    });
    expect(out.phase).toBe('Error');
    expect(out.measurements.map((m) => m.phase)).toEqual(['Error', 'Error', 'Error']);
    expect(out.message).toMatch(/consecutive errors \(3\) > consecutiveErrorLimit \(2\).*cannot reach/);
  });

  it('an unknown provider type is an Error measurement too', async () => {
    const out = await runAnalysis({
      template: template({ metrics: [{ name: 'm', consecutiveErrorLimit: 0, provider }] }),
      providers: { get: (type) => { throw new Error(`no metric provider "${type}"`); } },
      scheduler: fakeScheduler(),
    });
    expect(out).toMatchObject({ phase: 'Error' });
    expect(out.measurements[0]!.message).toMatch(/no metric provider "web"/);
  });

  it('resumes from stored measurements without re-taking them', async () => {
    const providers = scripted({ m: [1] });
    const out = await runAnalysis({
      template: template({ metrics: [{ name: 'm', interval: '1m', count: 3, provider }] }),
      providers,
      scheduler: fakeScheduler(),
      startedAtMs: T0 - 120_000,
      measurements: [
        { metricName: 'm', phase: 'Successful', value: 1, startedAtMs: T0 - 120_000, finishedAtMs: T0 - 120_000 },
        { metricName: 'm', phase: 'Successful', value: 1, startedAtMs: T0 - 60_000, finishedAtMs: T0 - 60_000 },
      ],
    });
    expect(out.phase).toBe('Successful');
    expect(providers.calls).toHaveLength(1);
  });

  it('a rejecting onMeasurement (store down) stops the run with that error', async () => {
    await expect(runAnalysis({
      template: template({ metrics: [{ name: 'm', interval: '1s', provider }] }),
      providers: scripted({ m: [1] }),
      scheduler: fakeScheduler(),
      onMeasurement: () => Promise.reject(new Error('disk full')),
    })).rejects.toThrow('disk full');
  });
});

describe('runAnalysis stop (real timers)', () => {
  it('abort stops an open-ended run as Successful, abandoning the in-flight measurement', async () => {
    const controller = new AbortController();
    const seen: RecordedMeasurement[] = [];
    const pending = runAnalysis({
      template: template({ metrics: [{ name: 'm', interval: '1s', provider }] }),
      providers: scripted({ m: [1, 'hang'] }),
      scheduler: realScheduler,
      signal: controller.signal,
      onMeasurement: (m) => { seen.push(m); },
    });
    setTimeout(() => controller.abort(), 1_500);
    const out = await pending;
    expect(out).toMatchObject({ phase: 'Successful', stopped: true });
    expect(seen).toHaveLength(1);
  });

  it('an already-aborted signal returns at once without measuring', async () => {
    const controller = new AbortController();
    controller.abort();
    const providers = scripted({ m: [1] });
    const out = await runAnalysis({ template: template({ metrics: [{ name: 'm', provider }] }), providers, signal: controller.signal });
    expect(out).toMatchObject({ phase: 'Successful', stopped: true });
    expect(providers.calls).toEqual([]);
  });
});
