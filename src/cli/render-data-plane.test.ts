import { describe, expect, it } from 'vitest';
import { renderDataPlane } from './render-data-plane.js';

// 12:04:31 on this machine's clock, whatever its time zone.
const atMs = new Date(2030, 0, 5, 12, 4, 31).getTime();

describe('the data plane under `graylane status`', () => {
  it('says where the router runs without workers', () => {
    expect(renderDataPlane({ kind: 'in-daemon', url: 'http://127.0.0.1:8080' })).toBe('data plane: the router inside the daemon at http://127.0.0.1:8080 (it stops with the daemon: spec.router.workers 0)');
    expect(renderDataPlane({ kind: 'nginx', url: 'http://127.0.0.1:8080' })).toBe('data plane: nginx at http://127.0.0.1:8080');
    expect(renderDataPlane({ kind: 'nginx', url: 'http://127.0.0.1:8080', nginxPid: 41, adopted: false })).toBe('data plane: nginx (master pid 41) at http://127.0.0.1:8080');
    expect(renderDataPlane({ kind: 'nginx', url: 'http://127.0.0.1:8080', nginxPid: 41, adopted: true })).toBe('data plane: nginx (master pid 41, adopted from an earlier daemon) at http://127.0.0.1:8080');
  });

  it('names the workers serving, and says nothing of deaths when none died', () => {
    const text = renderDataPlane({ kind: 'workers', url: 'http://127.0.0.1:8080', supervisorPid: 10, adopted: false, workers: [{ pid: 11, startedAtMs: 0, requests: 5 }, { pid: 12, startedAtMs: 0, requests: 7 }], workerExits: { total: 0, latest: [] } });
    expect(text).toBe('data plane: 2 router workers (pids 11, 12) under supervisor pid 10 at http://127.0.0.1:8080');
  });

  it('tells the latest death, its cause, when, and what replaced it', () => {
    const text = renderDataPlane({
      kind: 'workers', url: 'http://127.0.0.1:8080', supervisorPid: 10, adopted: true,
      workers: [{ pid: 12, startedAtMs: 0, requests: 7 }, { pid: 13, startedAtMs: 0, requests: 0, retiring: true }],
      workerExits: { total: 3, latest: [{ pid: 9, atMs: 0, cause: 'exit code 1', livedMs: 100 }, { pid: 11, atMs, cause: 'SIGKILL', livedMs: 200_000, replacedByPid: 12, replacedAfterMs: 311.6 }] },
    });
    expect(text.split('\n')).toEqual([
      'data plane: 1 router worker (pid 12) and 1 stopping under supervisor pid 10 at http://127.0.0.1:8080, adopted from an earlier daemon',
      '  3 workers died since the supervisor started; the latest, pid 11, exited (SIGKILL) at 12:04:31 after 3m20s, replaced by pid 12 in 312 ms',
    ]);
  });

  it('says when a death is not replaced yet, and why the workers could not be read', () => {
    const dying = renderDataPlane({ kind: 'workers', url: 'u', supervisorPid: 10, workers: [], workerExits: { total: 1, latest: [{ pid: 11, atMs, cause: 'SIGSEGV', livedMs: 5_000 }] } });
    expect(dying).toContain('0 router workers (pids -)');
    expect(dying).toContain('exited (SIGSEGV) at 12:04:31 after 5s, not replaced yet');
    expect(renderDataPlane({ kind: 'workers', url: 'u', supervisorPid: 10, problem: 'the router supervisor did not say how its workers are: timed out' })).toBe('data plane: router workers under supervisor pid 10 at u; the router supervisor did not say how its workers are: timed out');
  });
});
