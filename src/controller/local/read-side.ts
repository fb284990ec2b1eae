/**
 * What the single host answers about a service or a release without changing anything: its
 * revision history, its analysis runs (the guard's verdict beside them) and its instances' logs.
 */
import { mergeAsync } from '../../lib/merge-async.js';
import type { Release } from '../../documents/schema.js';
import type { ProcessTemplate } from '../../documents/schema.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Store, StoredService } from '../../state/store.js';
import type { GuardLoop } from '../core/guard-loop.js';
import { ControlPlaneError } from '../control-plane.js';
import type { AnalysisRunView, RevisionView } from '../view-model.js';
import { revisionSummary } from './views.js';

/** Options of {@link LocalReadSide}. */
export interface LocalReadSideOptions {
  /** Committed services, revisions and runs. */
  store: Store;
  /** Runs `process` services (live revisions, logs). */
  processRuntime: Runtime<ProcessTemplate>;
  /** The guard, whose verdict sits beside the analysis runs. */
  guard: Pick<GuardLoop, 'entry'>;
  /** A release by name, if one is so named. */
  release: (name: string) => Release | undefined;
  /** A service by name; throws ControlPlaneError NotFound. */
  requireService: (name: string) => StoredService;
}

/** See the file's comment. */
export class LocalReadSide {
  constructor(private readonly options: LocalReadSideOptions) {}

  history(name: string, options: { showEnv?: boolean } = {}): RevisionView[] {
    const release = this.options.release(name);
    if (release) {
      // Per member, named "member revision" as the release's view names them; newest first.
      return release.services
        .filter((member) => this.options.store.getService(member))
        .flatMap((member) => this.history(member, options).map((r) => ({ ...r, name: `${member} ${r.name}` })))
        .sort((a, b) => b.createdAtMs - a.createdAtMs);
    }
    this.options.requireService(name);
    const status = this.options.store.getStatus(name);
    const live = new Set(this.options.processRuntime.listInstances({ service: name }).map((i) => i.revision));
    return this.options.store
      .listRevisions(name)
      .reverse()
      .map((r) => ({
        number: r.number,
        name: r.name,
        createdAtMs: r.createdAtMs,
        role: r.name === status?.stableRevision ? 'stable' : r.name === status?.canaryRevision ? 'canary' : live.has(r.name) ? 'old' : 'retired',
        summary: revisionSummary(r.template, options),
      }));
  }

  analysis(name: string): AnalysisRunView[] {
    const release = this.options.release(name);
    if (release) {
      return release.services
        .filter((member) => this.options.store.getService(member))
        .flatMap((member) => this.analysis(member).map((r) => ({ ...r, name: `${member}/${r.name}` })))
        .sort((a, b) => b.startedAtMs - a.startedAtMs);
    }
    this.options.requireService(name);
    const stored = this.options.store.listAnalysisRuns(name).map((r): AnalysisRunView => ({ id: r.id, name: r.name, phase: r.phase, startedAtMs: r.startedAtMs, ...(r.run as Pick<AnalysisRunView, 'metrics' | 'message' | 'kind' | 'guard'>) }));
    // The guard's verdict belongs beside the runs: live while it judges, stored once it aborted.
    const guard = this.options.guard.entry(name);
    if (!guard) return stored;
    return [guard, ...stored.filter((r) => r.id !== guard.id)].sort((a, b) => b.startedAtMs - a.startedAtMs);
  }

  async *logs(options: { service: string; revision?: string; follow?: boolean; tailLines?: number; sinceMs?: number; signal?: AbortSignal }): AsyncIterable<string> {
    const release = this.options.release(options.service);
    if (release) {
      if (options.revision !== undefined) {
        throw new ControlPlaneError('InvalidOperation', `revisions belong to each member of release ${release.name}: name one, e.g. \`graylane logs ${release.services[0]!} --revision ${options.revision}\``);
      }
      // Members' lines as they come, each prefixed by its member.
      const members = release.services.filter((member) => this.options.store.getService(member));
      yield* mergeAsync(members.map((member) => prefixed(`${member} | `, this.logs({ ...options, service: member }))));
      return;
    }
    this.options.requireService(options.service);
    let revision = options.revision;
    if (revision && /^[0-9]+$/.test(revision)) {
      revision = this.options.store.listRevisions(options.service).find((r) => r.number === Number(revision))?.name ?? revision;
    }
    const { follow, tailLines, sinceMs, signal } = options;
    for await (const l of this.options.processRuntime.readLogs({ service: options.service, revision, follow, tailLines, sinceMs, signal })) {
      yield `[${l.instance}] ${l.line}`;
    }
  }
}

/** Prefixes every line of a log stream. */
async function* prefixed(prefix: string, lines: AsyncIterable<string>): AsyncIterable<string> {
  for await (const line of lines) yield `${prefix}${line}`;
}
