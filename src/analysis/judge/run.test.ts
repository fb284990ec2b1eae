import { describe, expect, it } from 'vitest';
import type { AnalysisTemplateSpec } from '../../documents/schema.js';
import { assessMeasurement } from './measurement.js';
import { judgeRun, type RunJudgement } from './run.js';
import { resolveTemplate } from './template.js';
import type { Measurement, ResolvedTemplate } from './types.js';

const provider = { web: { url: 'http://127.0.0.1/metric' } };
const T0 = 1_700_000_000_000;

/** Values (or errors) a fake provider returns per metric, in order; the last one repeats. */
type Script = Record<string, Array<number | Error>>;

/**
 * Drives the pure judge with a fake clock: measures what is due, each measurement taking
 * `latencyMs`, then jumps to the next wake-up. Stops when the run completes, or at `untilMs`.
 */
function simulate(spec: AnalysisTemplateSpec, script: Script, opts: { latencyMs?: number; untilMs?: number; terminateAtMs?: number; dryRun?: string[] } = {}) {
  const template = resolveTemplate({ spec, dryRun: opts.dryRun ?? [] });
  const measurements: Measurement[] = [];
  const taken: Record<string, number[]> = {};
  let now = T0;
  let j: RunJudgement = judgeRun({ template, measurements, startedAtMs: T0, nowMs: now });
  for (let guard = 0; guard < 10_000; guard++) {
    const terminate = opts.terminateAtMs !== undefined && now >= opts.terminateAtMs;
    j = judgeRun({ template, measurements, startedAtMs: T0, nowMs: now, terminate });
    if (j.phase !== 'Running' && j.phase !== 'Pending') break;
    if (opts.untilMs !== undefined && now >= opts.untilMs) break;
    for (const name of j.due) measure(template, name, now, opts.latencyMs ?? 0, script, measurements, taken);
    if (j.due.length > 0) continue;
    const next = Math.min(j.nextWakeAtMs ?? Infinity, opts.terminateAtMs !== undefined && now < opts.terminateAtMs ? opts.terminateAtMs : Infinity);
    if (!Number.isFinite(next)) break;
    now = next;
  }
  return { j, measurements, taken, now };
}

function measure(template: ResolvedTemplate, name: string, now: number, latencyMs: number, script: Script, out: Measurement[], taken: Record<string, number[]>) {
  const metric = template.metrics.find((m) => m.name === name)!;
  const values = script[name] ?? [0];
  const i = (taken[name] ??= []).length;
  taken[name].push(now - T0);
  const v = values[Math.min(i, values.length - 1)]!;
  const base = { metricName: name, startedAtMs: now, finishedAtMs: now + latencyMs };
  if (v instanceof Error) out.push({ ...base, phase: 'Error', message: v.message });
  else out.push({ ...base, value: v, ...assessMeasurement(metric, v) });
}

const boom = new Error('connection refused');

describe('judgeRun scheduling (fake clock)', () => {
  it('without interval measures once, at once', () => {
    const { j, taken } = simulate({ metrics: [{ name: 'm', successCondition: 'result > 0', provider }] }, { m: [1] });
    expect(j.phase).toBe('Successful');
    expect(taken.m).toEqual([0]);
  });

  it('honours initialDelay, interval and count; the interval runs from the end of the last measurement', () => {
    const spec = { metrics: [{ name: 'm', initialDelay: '5s', interval: '10s', count: 3, successCondition: 'result > 0', provider }] };
    const { j, taken } = simulate(spec, { m: [1] }, { latencyMs: 500 });
    expect(j.phase).toBe('Successful');
    expect(taken.m).toEqual([5_000, 15_500, 26_000]);
  });

  it('reports when the next measurement is due and what is due now', () => {
    const template = resolveTemplate({ spec: { metrics: [{ name: 'a', interval: '1m', provider }, { name: 'b', initialDelay: '30s', interval: '1m', provider }] } });
    const j0 = judgeRun({ template, measurements: [], startedAtMs: T0, nowMs: T0 });
    expect(j0.phase).toBe('Running');
    expect(j0.due).toEqual(['a']);
    expect(j0.nextWakeAtMs).toBe(T0 + 30_000);
    expect(j0.metrics.map((m) => m.phase)).toEqual(['Pending', 'Pending']);
    const inFlight: Measurement[] = [{ metricName: 'a', phase: 'Running', startedAtMs: T0 }];
    const j1 = judgeRun({ template, measurements: inFlight, startedAtMs: T0, nowMs: T0 + 1 });
    expect(j1.due).toEqual([]);
    expect(j1.metrics[0]).toMatchObject({ phase: 'Running', measureNow: false });
    expect(j1.metrics[0]!.nextMeasurementAtMs).toBeUndefined();
    const done: Measurement[] = [{ metricName: 'a', phase: 'Successful', value: 1, startedAtMs: T0, finishedAtMs: T0 + 2_000 }];
    const j2 = judgeRun({ template, measurements: done, startedAtMs: T0, nowMs: T0 + 2_000 });
    expect(j2.metrics[0]!.nextMeasurementAtMs).toBe(T0 + 62_000);
    expect(j2.nextWakeAtMs).toBe(T0 + 30_000);
  });

  it('with an interval and no count runs until stopped, then is Successful', () => {
    const spec = { metrics: [{ name: 'm', interval: '10s', successCondition: 'result > 0', provider }] };
    const running = simulate(spec, { m: [1] }, { untilMs: T0 + 60_000 });
    expect(running.j.phase).toBe('Running');
    expect(running.taken.m).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    const stopped = simulate(spec, { m: [1] }, { terminateAtMs: T0 + 25_000 });
    expect(stopped.j.phase).toBe('Successful');
    expect(stopped.taken.m).toEqual([0, 10_000, 20_000]);
  });

  it('a run stopped before any measurement is Successful (Argo)', () => {
    const template = resolveTemplate({ spec: { metrics: [{ name: 'm', initialDelay: '1m', provider }] } });
    expect(judgeRun({ template, measurements: [], startedAtMs: T0, nowMs: T0, terminate: true }).phase).toBe('Successful');
  });
});

describe('judgeRun limits', () => {
  const metric = { name: 'm', interval: '1s', count: 5, successCondition: 'result > 0.9', failureCondition: 'result < 0.5', provider };
  it.each([
    // values, extra fields, run phase, measurements taken
    [[1], {}, 'Successful', 5],
    [[0.1], {}, 'Failed', 1],
    [[1, 0.1, 1], { failureLimit: 1 }, 'Successful', 5],
    [[0.1, 1, 0.1], { failureLimit: 1 }, 'Failed', 3],
    [[0.1], { failureLimit: -1 }, 'Successful', 5],
    [[0.7], {}, 'Inconclusive', 1],
    [[0.7, 0.7, 1], { inconclusiveLimit: 2 }, 'Successful', 5],
    [[1, 0.7, 0.7, 0.7], { inconclusiveLimit: 2 }, 'Inconclusive', 4],
  ] as const)('%j with %j → %s after %i measurements', (values, extra, phase, n) => {
    const { j, taken } = simulate({ metrics: [{ ...metric, ...extra }] }, { m: [...values] });
    expect(j.phase).toBe(phase);
    expect(taken.m).toHaveLength(n);
    if (phase !== 'Successful') expect(j.message).toMatch(/metric "m" assessed/);
  });

  it('errors do not count toward count; consecutiveErrorLimit (default 4) ends the run with Error on the 5th', () => {
    const errors = simulate({ metrics: [{ ...metric }] }, { m: [boom] });
    expect(errors.j.phase).toBe('Error');
    expect(errors.taken.m).toHaveLength(5);
    expect(errors.j.message).toMatch(/consecutive errors \(5\) > consecutiveErrorLimit \(4\).*connection refused/);
    const recovered = simulate({ metrics: [{ ...metric }] }, { m: [boom, boom, boom, boom, 1, boom, boom, 1] });
    expect(recovered.j.phase).toBe('Successful');
    expect(recovered.taken.m).toHaveLength(11);
    const strict = simulate({ metrics: [{ ...metric, consecutiveErrorLimit: 0 }] }, { m: [boom] });
    expect(strict.j.phase).toBe('Error');
    expect(strict.taken.m).toHaveLength(1);
  });

  it('errors without an interval are retried every 10 s', () => {
    const { j, taken } = simulate({ metrics: [{ name: 'm', successCondition: 'result > 0', provider }] }, { m: [boom, boom, 1] });
    expect(j.phase).toBe('Successful');
    expect(taken.m).toEqual([0, 10_000, 20_000]);
  });

  it('a failing metric terminates the run while others still run; the worst phase wins', () => {
    const spec = { metrics: [
      { name: 'slow', interval: '1m', successCondition: 'result > 0', provider },
      { name: 'bad', interval: '1s', count: 10, failureLimit: 2, successCondition: 'result > 0', provider },
    ] };
    const { j, taken } = simulate(spec, { slow: [1], bad: [1, 0, 0, 0] });
    expect(j.phase).toBe('Failed');
    expect(taken.bad).toHaveLength(4);
    expect(j.metrics.map((m) => m.phase)).toEqual(['Successful', 'Failed']);
  });

  it('a failed run says what the failing measurement said (a command\'s exit code and stderr)', () => {
    const template = resolveTemplate({ spec: { metrics: [{ name: 'migrate', count: 1, failureLimit: 0, provider }] } });
    const failed: Measurement = { metricName: 'migrate', phase: 'Failed', message: './migrate exited with code 3: column exists', startedAtMs: T0, finishedAtMs: T0 };
    expect(judgeRun({ template, measurements: [failed], startedAtMs: T0, nowMs: T0 })).toMatchObject({
      phase: 'Failed', message: 'metric "migrate" assessed Failed: failed (1) > failureLimit (0); last: ./migrate exited with code 3: column exists',
    });
  });

  it('Error outranks Inconclusive, Failed outranks Error', () => {
    const template = resolveTemplate({ spec: { metrics: [
      { name: 'a', successCondition: 'result > 0.9', failureCondition: 'result < 0.1', provider },
      { name: 'b', consecutiveErrorLimit: 0, provider },
      { name: 'c', successCondition: 'result > 0', provider },
    ] } });
    const at = (name: string, phase: Measurement['phase']): Measurement => ({ metricName: name, phase, startedAtMs: T0, finishedAtMs: T0 });
    expect(judgeRun({ template, measurements: [at('a', 'Inconclusive'), at('b', 'Error'), at('c', 'Successful')], startedAtMs: T0, nowMs: T0 }).phase).toBe('Error');
    expect(judgeRun({ template, measurements: [at('a', 'Inconclusive'), at('b', 'Error'), at('c', 'Failed')], startedAtMs: T0, nowMs: T0 }).phase).toBe('Failed');
  });
});

describe('judgeRun dryRun', () => {
  const spec = { metrics: [
    { name: 'real', interval: '1s', count: 3, successCondition: 'result > 0', provider },
    { name: 'trial', interval: '1s', count: 3, successCondition: 'result > 0', provider },
  ] };
  it('a failing dry-run metric never fails the run, and is reported', () => {
    const { j, taken } = simulate(spec, { real: [1], trial: [0] }, { dryRun: ['trial'] });
    expect(j.phase).toBe('Successful');
    expect(j.dryRunPhase).toBe('Failed');
    expect(j.metrics[1]).toMatchObject({ name: 'trial', dryRun: true, phase: 'Failed' });
    expect(taken.real).toHaveLength(3);
  });
  it('without dry-run the same metric fails the run', () => {
    expect(simulate(spec, { real: [1], trial: [0] }).j.phase).toBe('Failed');
  });
  it('a run of only dry-run metrics is Successful when they complete', () => {
    const { j } = simulate(spec, { real: [0], trial: [0] }, { dryRun: ['*'] });
    expect(j).toMatchObject({ phase: 'Successful', dryRunPhase: 'Failed' });
  });
});
