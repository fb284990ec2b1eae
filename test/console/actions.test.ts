import { describe, expect, it } from 'vitest';
import { actionsOf } from '../../src/console/actions.js';
import { fixtureViews } from '../fixtures/console/views.js';

const labels = (v: Parameters<typeof actionsOf>[0]) => actionsOf(v).map((a) => a.label);

describe('console actions by rollout state', () => {
  it('offers promote, resume and abort on a paused canary, and asks before promote full and abort', () => {
    const checkout = fixtureViews().checkout!;
    expect(labels(checkout)).toEqual(['Promote', 'Promote full', 'Resume', 'Abort']);
    const asks = actionsOf(checkout).filter((a) => a.confirm).map((a) => a.label);
    expect(asks).toEqual(['Promote full', 'Abort']);
    expect(actionsOf(checkout).find((a) => a.label === 'Promote full')?.op).toEqual({ type: 'promote', full: true });
  });

  it('offers pause, not resume, on a progressing rollout', () => {
    const v = { ...fixtureViews().checkout!, phase: 'Progressing' as const, pauseReasons: [] };
    expect(labels(v)).toEqual(['Promote', 'Promote full', 'Pause', 'Abort']);
  });

  it('offers retry (and restart) after an abort, and nothing that moves the aborted rollout on', () => {
    const v = { ...fixtureViews().checkout!, phase: 'Degraded' as const, aborted: true, terminal: true };
    expect(labels(v)).toEqual(['Retry', 'Restart']);
  });

  it('offers only restart, after a confirmation, on a healthy service; a finished release offers nothing', () => {
    const views = fixtureViews();
    expect(labels(views.billing!)).toEqual(['Restart']);
    expect(actionsOf(views.billing!)[0]?.confirm).toContain('one by one');
    expect(labels({ ...views.storefront!, step: 0, done: true, terminal: true, phase: 'Healthy' })).toEqual([]);
  });
});
