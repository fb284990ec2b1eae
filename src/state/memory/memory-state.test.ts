import { describe, expect, it } from 'vitest';
import { initialStatus } from '../../engine/index.js';
import type { ReleaseState } from '../../engine/release/releases.js';
import { statePortConformance } from '../state-port.case.test.js';
import { StateConflictError } from '../state-port.js';
import { MemoryState } from './memory-state.js';

const key = { namespace: 'default', name: 'web' };
const status = initialStatus(1000);
const traffic = { stableRevision: 'r1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] };
const release: ReleaseState = { name: 'shop', generation: 'g1', phase: 'idle', stepIndex: 0, members: [], secret: 's', message: '' };

describe('MemoryState', () => {
  it('round-trips a committed status, traffic and events, bumping the version', async () => {
    const state = new MemoryState();
    expect(await state.load(key)).toBeUndefined();
    const first = await state.commit(key, { status, traffic, events: [{ atMs: 1, level: 'info', reason: 'A', message: 'a' }] }, 0);
    expect(first).toEqual({ version: 1, eventIds: [1] });
    expect(await state.load(key)).toEqual({ key, status, traffic, version: 1 });
    expect(state.events(key)).toEqual([{ id: 1, key, atMs: 1, level: 'info', reason: 'A', message: 'a' }]);
  });

  it('keeps the traffic in force when a change names none', async () => {
    const state = new MemoryState();
    await state.commit(key, { status, traffic }, 0);
    await state.commit(key, { status: { ...status, attempt: 2 } }, 1);
    expect(await state.load(key)).toMatchObject({ traffic, version: 2, status: { attempt: 2 } });
  });

  it.each([
    ['a stale version', 1],
    ['version 0 for a record that exists', 0],
    ['a version from the future', 5],
  ])('refuses %s with a conflict and changes nothing', async (_name, expected) => {
    const state = new MemoryState();
    await state.commit(key, { status }, 0);
    await state.commit(key, { status }, 1);
    const before = await state.load(key);
    const err = await state.commit(key, { status: { ...status, attempt: 9 }, events: [{ atMs: 1, level: 'info', reason: 'X', message: 'x' }] }, expected).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateConflictError);
    expect(err).toMatchObject({ code: 'StateConflict', key, expectedVersion: expected, actualVersion: 2 });
    expect(await state.load(key)).toEqual(before);
    expect(state.events()).toEqual([]);
  });

  it('hands out copies: changing a loaded record changes nothing committed', async () => {
    const state = new MemoryState();
    await state.commit(key, { status, traffic }, 0);
    const loaded = (await state.load(key))!;
    loaded.status.attempt = 42;
    loaded.traffic!.canaryWeight = 50;
    expect(await state.load(key)).toMatchObject({ status: { attempt: status.attempt }, traffic: { canaryWeight: 0 } });
  });

  it('keeps records of different namespaces apart', async () => {
    const state = new MemoryState();
    await state.commit(key, { status }, 0);
    expect(await state.load({ namespace: 'other', name: 'web' })).toBeUndefined();
  });

  it('versions release records and refuses a stale release commit', async () => {
    const state = new MemoryState();
    const shop = { namespace: 'default', name: 'shop' };
    expect(await state.commitRelease(shop, release, 0)).toEqual({ version: 1, eventIds: [] });
    expect(await state.loadRelease(shop)).toEqual({ key: shop, state: release, version: 1 });
    await expect(state.commitRelease(shop, { ...release, stepIndex: 1 }, 0)).rejects.toBeInstanceOf(StateConflictError);
    expect((await state.loadRelease(shop))?.state.stepIndex).toBe(0);
  });
});

// The same conformance suite the SQLite adapter runs, so the core's fixture tests commit as the
// real controller does.
statePortConformance('memory', () => {
  const state = new MemoryState();
  return { state, recordedEvents: (k) => state.events(k).map(({ atMs, level, reason, message }) => ({ atMs, level, reason, message })) };
});
