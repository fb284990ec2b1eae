import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { EventRecorder, readRecordedEvent, type InvolvedObject } from '../../src/kube/event-recorder.js';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor, writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';

const rollout: InvolvedObject = { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', namespace: 'default', name: 'web', uid: '7d3c1c8e-0000-4000-8000-000000000001', resourceVersion: '12' };
const T0 = Date.parse('2026-05-01T10:00:00Z');

interface World { server: FakeApiServer; recorder: EventRecorder; clock: { nowMs: number }; logged: string[]; events(): Promise<CoreV1Event[]> }

async function start(options: { aggregateWindowMs?: number; maxRemembered?: number } = {}): Promise<World> {
  const server = await FakeApiServer.start();
  const kubeConfig = kubeConfigFor({ server });
  const clock = { nowMs: T0 };
  const logged: string[] = [];
  const recorder = new EventRecorder({ kubeConfig, nowMs: () => clock.nowMs, log: (l) => logged.push(l), ...options });
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const events = async () => (await core.listNamespacedEvent({ namespace: 'default' })).items.sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  return { server, recorder, clock, logged, events };
}

describe('EventRecorder', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.server.close().catch(() => undefined);
    world = undefined;
  });

  it('posts a core/v1 Event about the object, Normal for info, from graylane-controller', async () => {
    world = await start();
    await world.recorder.record({ object: rollout, level: 'info', reason: 'RolloutPaused', message: 'paused at step 2' });
    const [event, ...rest] = await world.events();
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      involvedObject: { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', namespace: 'default', name: 'web', uid: rollout.uid, resourceVersion: '12' },
      reason: 'RolloutPaused', message: 'paused at step 2', type: 'Normal', source: { component: 'graylane-controller' }, count: 1,
      firstTimestamp: new Date(T0), lastTimestamp: new Date(T0),
    });
    expect(readRecordedEvent(event!)).toEqual({ atMs: T0, level: 'info', reason: 'RolloutPaused', message: 'paused at step 2' });
    expect(world.logged).toEqual([]);
  });

  it('post returns at once and posts in the background, one object\'s Events in order; flush waits for all of them', async () => {
    world = await start();
    const before = (await world.events()).length;
    for (let i = 0; i < 5; i++) world.recorder.post({ object: rollout, level: 'info', reason: `Step${i}`, message: `step ${i}`, atMs: T0 + i });
    // Nothing can have reached the server yet: post did not wait a round trip.
    expect(world.server.requests.filter((r) => r.method === 'POST')).toEqual([]);
    await world.recorder.flush();
    const posted = (await world.events()).slice(before).map((e) => readRecordedEvent(e));
    expect(posted.map((e) => e.reason)).toEqual(['Step0', 'Step1', 'Step2', 'Step3', 'Step4']);
    expect(world.server.requests.filter((r) => r.method === 'POST')).toHaveLength(5);
  });

  it('remembers at most maxRemembered Events for counting: the least recently used one repeated is posted anew, a recent one is counted', async () => {
    world = await start({ maxRemembered: 2 });
    const event = (reason: string) => ({ object: rollout, level: 'info' as const, reason, message: reason });
    await world.recorder.record(event('A'));
    await world.recorder.record(event('B'));
    await world.recorder.record(event('A')); // A is now the most recently used: B is the oldest
    await world.recorder.record(event('C')); // over the cap: B is forgotten
    await world.recorder.record(event('A'));
    await world.recorder.record(event('B'));
    const byReason = (await world.events()).map((e) => [e.reason, e.count]).sort();
    expect(byReason).toEqual([['A', 3], ['B', 1], ['B', 1], ['C', 1]]);
  });

  it.each([['warning'], ['error']] as const)('a %s is a Warning Event that reads back with its level', async (level) => {
    world = await start();
    await world.recorder.record({ object: rollout, level, reason: 'AnalysisFailed', message: 'error rate 9%', atMs: T0 + 1234 });
    const [event] = await world.events();
    expect(event?.type).toBe('Warning');
    expect(readRecordedEvent(event!)).toEqual({ atMs: T0 + 1234, level, reason: 'AnalysisFailed', message: 'error rate 9%' });
  });

  it('the same reason and message again within the window bumps count and lastTimestamp on the one Event', async () => {
    world = await start();
    await world.recorder.record({ object: rollout, level: 'warning', reason: 'ProgressDeadlineExceeded', message: 'stuck' });
    world.clock.nowMs = T0 + 60_000;
    await world.recorder.record({ object: { ...rollout, resourceVersion: '15' }, level: 'warning', reason: 'ProgressDeadlineExceeded', message: 'stuck' });
    world.clock.nowMs = T0 + 120_000;
    await world.recorder.record({ object: rollout, level: 'warning', reason: 'ProgressDeadlineExceeded', message: 'stuck' });
    const events = await world.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ count: 3, firstTimestamp: new Date(T0), lastTimestamp: new Date(T0 + 120_000) });
  });

  it('another message, another object or a repeat after the window is a new Event', async () => {
    world = await start({ aggregateWindowMs: 5 * 60_000 });
    await world.recorder.record({ object: rollout, level: 'info', reason: 'StepCompleted', message: 'step 1 done' });
    await world.recorder.record({ object: rollout, level: 'info', reason: 'StepCompleted', message: 'step 2 done' });
    await world.recorder.record({ object: { ...rollout, name: 'api', uid: 'other' }, level: 'info', reason: 'StepCompleted', message: 'step 1 done' });
    world.clock.nowMs = T0 + 5 * 60_000 + 1000;
    await world.recorder.record({ object: rollout, level: 'info', reason: 'StepCompleted', message: 'step 1 done' });
    const events = await world.events();
    // Sorted by name: the object's name, then the time it was first posted.
    expect(events.map((e) => [e.involvedObject.name, e.message, e.count])).toEqual([
      ['api', 'step 1 done', 1], ['web', 'step 1 done', 1], ['web', 'step 2 done', 1], ['web', 'step 1 done', 1],
    ]);
  });

  it('when the Event to bump was deleted meanwhile, a new one is posted', async () => {
    world = await start();
    await world.recorder.record({ object: rollout, level: 'info', reason: 'RolloutPaused', message: 'paused' });
    const [first] = await world.events();
    expect((await rawRequest({ server: world.server, method: 'DELETE', path: `/api/v1/namespaces/default/events/${first!.metadata.name!}` })).status).toBe(200);
    await world.recorder.record({ object: rollout, level: 'info', reason: 'RolloutPaused', message: 'paused' });
    const events = await world.events();
    expect(events.map((e) => [e.reason, e.count])).toEqual([['RolloutPaused', 1]]);
    expect(events[0]!.metadata.name).not.toBe(first!.metadata.name);
    expect(world.logged).toEqual([]);
  });

  it('an Event someone else bumped meanwhile (a Conflict) is counted on the Event as it stands, and repeats at once are all counted', async () => {
    world = await start();
    await world.recorder.record({ object: rollout, level: 'warning', reason: 'RoutingFailed', message: 'no ready pod' });
    const [first] = await world.events();
    // Another writer bumps it: the recorder's remembered resourceVersion is stale now.
    const core = kubeConfigFor({ server: world.server }).makeApiClient(CoreV1Api);
    await core.replaceNamespacedEvent({ namespace: 'default', name: first!.metadata.name!, body: { ...first!, count: 5 } });
    await world.recorder.record({ object: rollout, level: 'warning', reason: 'RoutingFailed', message: 'no ready pod' });
    for (let i = 0; i < 4; i += 1) world.recorder.post({ object: rollout, level: 'warning', reason: 'RoutingFailed', message: 'no ready pod' });
    await world.recorder.flush();
    const events = await world.events();
    expect(events.map((e) => [e.metadata.name, e.count])).toEqual([[first!.metadata.name, 10]]);
    expect(world.logged).toEqual([]);
  });

  it('a failure to post is logged, never thrown', async () => {
    world = await start();
    await expect(world.recorder.record({ object: { ...rollout, namespace: 'gone' }, level: 'info', reason: 'RolloutPaused', message: 'paused' })).resolves.toBeUndefined();
    expect(world.logged).toEqual([expect.stringMatching(/^event RolloutPaused about Rollout gone\/web not posted: /)]);
  });

  it('an Event write the server sheds with Retry-After is logged, and the Events of the time it asked for are dropped, not sent', async () => {
    world = await start();
    world.server.injectFault({ status: 429, method: 'POST', pathIncludes: '/events', retryAfterSeconds: 2 });
    await expect(world.recorder.record({ object: rollout, level: 'error', reason: 'ScaleFailed', message: 'one' })).resolves.toBeUndefined();
    expect(world.logged).toEqual([expect.stringMatching(/^event ScaleFailed about Rollout default\/web not posted: .*events of the next 2000 ms are dropped$/s)]);
    const posts = () => world!.server.requests.filter((r) => r.method === 'POST' && r.path.includes('/events')).length;
    world.clock.nowMs += 1999;
    await world.recorder.record({ object: rollout, level: 'error', reason: 'ScaleFailed', message: 'two' });
    await world.recorder.record({ object: rollout, level: 'info', reason: 'RolloutPaused', message: 'three' });
    expect(posts()).toBe(1);
    world.clock.nowMs += 1;
    await world.recorder.record({ object: rollout, level: 'info', reason: 'RolloutPaused', message: 'four' });
    expect(posts()).toBe(2);
    expect((await world.events()).map((e) => e.message)).toEqual(['four']);
    expect(world.logged.at(-1)).toBe('2 event(s) dropped while the API server asked for quiet');
  });

  it('a failure to bump (the server unreachable) is logged, never thrown', async () => {
    world = await start();
    await world.recorder.record({ object: rollout, level: 'info', reason: 'RolloutPaused', message: 'paused' });
    await world.server.close();
    await expect(world.recorder.record({ object: rollout, level: 'info', reason: 'RolloutPaused', message: 'paused' })).resolves.toBeUndefined();
    expect(world.logged).toEqual([expect.stringMatching(/^event RolloutPaused about Rollout default\/web not posted: /)]);
  });
});

const kubectlPath = '/usr/bin/kubectl';
describe.skipIf(!existsSync(kubectlPath))('kubectl shows the Events graylane posts (skipped only when /usr/bin/kubectl is absent)', () => {
  it('kubectl get events lists the reason, the object and the message, with the count of repeats', async () => {
    const server = await FakeApiServer.start();
    const dir = await mkdtemp(join(tmpdir(), 'graylane-events-kubectl-'));
    try {
      const recorder = new EventRecorder({ kubeConfig: kubeConfigFor({ server }) });
      await recorder.record({ object: rollout, level: 'warning', reason: 'RolloutAborted', message: 'analysis failed: error rate 9%' });
      await recorder.record({ object: rollout, level: 'warning', reason: 'RolloutAborted', message: 'analysis failed: error rate 9%' });
      const kubeconfig = await writeKubeconfig({ server, dir });
      const { stdout } = await promisify(execFile)(kubectlPath, ['--kubeconfig', kubeconfig, 'get', 'events', '-o', 'json'], { timeout: 20_000 });
      const items = (JSON.parse(stdout) as { items: CoreV1Event[] }).items;
      expect(items.map((e) => [e.type, e.reason, e.involvedObject.kind, e.involvedObject.name, e.message, e.count])).toEqual([
        ['Warning', 'RolloutAborted', 'Rollout', 'web', 'analysis failed: error rate 9%', 2],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await server.close();
    }
  });
});
