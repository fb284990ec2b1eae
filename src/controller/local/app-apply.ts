/**
 * `graylane apply` on a single host: an App file validated as a whole (documents, runnable
 * commands, what it would remove), then every service's revision, spec and events committed in
 * one transaction, or nothing at all.
 */
import { dirname, resolve } from 'node:path';
import { analysisLoadChecks } from '../../analysis/load-checks.js';
import { appServiceRevision, formatSpecError, formatSpecWarning, loadDocuments } from '../../documents/index.js';
import type { App, AppService } from '../../documents/schema.js';
import { resolveCommand, resolveCwd } from '../../runtime/process/command.js';
import { RuntimeError } from '../../runtime/errors.js';
import type { Store } from '../../state/store.js';
import { trafficLoadChecks } from '../../traffic/load-checks.js';
import { ControlPlaneError, type ApplyResult } from '../control-plane.js';

/** Options of {@link applyApp}. */
export interface ApplyAppOptions {
  /** Where the App is committed. */
  store: Store;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** The file's text. */
  text: string;
  /** Its path, for messages and relative working directories. */
  file: string;
  /** Remove services the file does not name even when its App name differs. */
  prune?: boolean | undefined;
}

/**
 * Validates and commits an App file; throws ControlPlaneError (ValidationFailed, InvalidOperation)
 * with nothing applied. The caller retires removed services and reconciles the others.
 */
export function applyApp(options: ApplyAppOptions): ApplyResult {
  const { store, nowMs } = options;
  const input = { text: options.text, file: options.file, prune: options.prune };
  const loaded = loadDocuments({ text: input.text, file: input.file }, { ...analysisLoadChecks, ...trafficLoadChecks() });
  if (loaded.errors.length > 0) {
    throw new ControlPlaneError('ValidationFailed', `${input.file} is invalid; nothing was applied`, loaded.errors.map(formatSpecError));
  }
  const apps = loaded.documents.filter((d) => d.kind === 'App');
  if (apps.length !== 1) {
    throw new ControlPlaneError('ValidationFailed', `${input.file} must hold exactly one App document (found ${apps.length}); nothing was applied`);
  }
  const app = apps[0]!.doc;
  const baseDir = dirname(resolve(input.file));
  const now = nowMs();
  const warnings = loaded.warnings.map(formatSpecWarning);
  const before = store.getApp()?.app;
  if (before && (before.spec.listen ?? '') !== (app.spec.listen ?? '')) warnings.push('spec.listen changed: restart `graylane up` for the router to listen there');
  const problems = checkRunnable(app, baseDir, input.file);
  if (problems.length > 0) {
    throw new ControlPlaneError('ValidationFailed', `${input.file} cannot be run; nothing was applied`, problems);
  }
  const removed = store.listServices().filter((s) => !app.spec.services.some((n) => n.name === s.name)).map((s) => s.name);
  // Another App (a wrong --state-dir, say) would otherwise silently delete every service it does not name.
  if (removed.length > 0 && input.prune !== true && before?.metadata.name !== app.metadata.name) {
    throw new ControlPlaneError(
      'InvalidOperation',
      `${input.file} is App "${app.metadata.name}" but this daemon runs App "${before?.metadata.name ?? '(unnamed)'}": applying it would remove ${plural(removed.length, 'service')} ${removed.join(', ')} with ${removed.length === 1 ? 'its' : 'their'} history. Nothing was applied. To remove ${removed.length === 1 ? 'it' : 'them'}, pass --prune; otherwise check that --state-dir points at the daemon of this App.`,
    );
  }
  const result: ApplyResult = { services: [], warnings, removed };
  store.transaction(() => {
    for (const svc of app.spec.services) {
      const revision = appServiceRevision(svc);
      const before = store.getService(svc.name);
      const status = store.getStatus(svc.name);
      const stored = store.addRevision({ service: svc.name, name: revision, template: templateOf(svc, baseDir), createdAtMs: now });
      store.putService({ name: svc.name, spec: svc, baseDir, desiredRevision: revision, appliedAtMs: now });
      const change: ApplyResult['services'][number]['change'] = !before
        ? 'created'
        : before.desiredRevision === revision
          ? 'unchanged'
          : status?.stableRevision === revision
            ? 'rollback'
            : 'updated';
      result.services.push({ name: svc.name, revision, revisionNumber: stored.number, change });
      if (change !== 'unchanged') {
        store.appendEvents(svc.name, [{ atMs: now, level: 'info', reason: 'Applied', message: `revision #${stored.number} (${revision}) applied: ${change}` }]);
      }
    }
    for (const name of removed) store.deleteService(name);
    if (removed.length > 0) {
      store.appendEvents('daemon', [{ atMs: now, level: 'info', reason: 'ServicesRemoved', message: `${removed.join(', ')} removed by the apply of ${input.file}` }]);
    }
    const templates = loaded.documents.flatMap((d) => (d.kind === 'AnalysisTemplate' || d.kind === 'ClusterAnalysisTemplate' ? [d.doc] : []));
    store.putApp({ app, templates });
  });
  return result;
}

/** Commands and working directories must exist before anything is applied, not fail one instance at a time. */
function checkRunnable(app: App, baseDir: string, file: string): string[] {
  const problems: string[] = [];
  app.spec.services.forEach((svc, i) => {
    if (!svc.process) return;
    const path = `spec.services[${i}].process`;
    try {
      const cwd = resolveCwd(baseDir, svc.process.cwd);
      resolveCommand(svc.process.command[0]!, cwd, svc.process.env?.PATH ?? process.env.PATH);
    } catch (err) {
      if (!(err instanceof RuntimeError)) throw err;
      problems.push(`${file}: ${path}${err.code === 'CwdNotFound' ? '.cwd' : '.command[0]'}: ${err.message}`);
    }
  });
  return problems;
}

/**
 * What a revision runs. A process's cwd is made absolute against the directory of the App file it
 * came from: the runtime's own base dir is the directory of the file `graylane up` started with,
 * and a service applied from another file must run in its own directory.
 */
function templateOf(svc: AppService, baseDir: string): unknown {
  if (!svc.process) return { targets: svc.targets ?? [] };
  return { ...svc.process, cwd: resolve(baseDir, svc.process.cwd ?? '.') };
}

const plural = (n: number, word: string) => (n === 1 ? word : `${word}s`);
