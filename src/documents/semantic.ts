/**
 * Rules the schema cannot say: combinations that Argo Rollouts (or graylane's single host) rejects.
 * Each returns issues with an exact reason; they run only on documents the schema accepted.
 */
import type { App, AnalysisTemplate, Notifications, BlueGreenStrategy, CanaryStrategy, Rollout, RolloutAnalysis, Strategy, TrafficRouting } from './schema.js';
import type { Issue, PathSegment } from './source.js';
import { parseDurationMs } from '../lib/duration.js';
import { checkHooks } from './hook-checks.js';
import { guardTemplateProblems } from './guard-query-template.js';

/**
 * Longest `pinning.abortGrace`: an abort must put traffic back on stable in seconds, and a page
 * still loading when the abort came is done well within this.
 */
export const MAX_ABORT_GRACE_MS = 60_000;

/** Where a strategy runs: Kubernetes Rollouts name Services and Ingresses, Apps use the built-in router. */
interface StrategyContext {
  readonly kubernetes: boolean;
}

const issue = (path: PathSegment[], reason: string, code: Issue['code'] = 'semantic', at: Issue['at'] = 'value'): Issue => ({ path, reason, code, at });

function isZero(v: number | string | undefined): boolean {
  return v === 0 || v === '0%';
}

/** Checks a strategy block (Rollout `spec.strategy` or an App service's `strategy`). */
export function checkStrategy(strategy: Strategy, base: PathSegment[], ctx: StrategyContext): Issue[] {
  const out: Issue[] = [];
  if (strategy.canary) out.push(...checkCanary(strategy.canary, [...base, 'canary'], ctx));
  if (strategy.blueGreen) out.push(...checkBlueGreen(strategy.blueGreen, [...base, 'blueGreen'], ctx));
  return out;
}

function checkCanary(c: CanaryStrategy, base: PathSegment[], ctx: StrategyContext): Issue[] {
  const out: Issue[] = [];
  // In an App every canary goes through the built-in router, which is traffic routing.
  const routed = !ctx.kubernetes || c.trafficRouting !== undefined;
  const managed = new Set((c.trafficRouting?.managedRoutes ?? []).map((r) => r.name));
  const checkRouteNames = ctx.kubernetes || c.trafficRouting?.managedRoutes !== undefined;
  const steps = c.steps ?? [];
  // Every setWeight is on the router's scale: beyond it is more than all of the traffic.
  const maxWeight = c.trafficRouting?.maxTrafficWeight ?? 100;
  steps.forEach((step, i) => {
    const at = [...base, 'steps', i];
    if ('setWeight' in step && step.setWeight > maxWeight) {
      out.push(issue([...at, 'setWeight'], `must be at most ${maxWeight}, found ${step.setWeight}${maxWeight === 100 ? '' : ' (the scale of trafficRouting.maxTrafficWeight)'}`));
    }
    if ('setCanaryScale' in step && !routed) out.push(issue([...at, 'setCanaryScale'], 'setCanaryScale needs trafficRouting (without it the canary gets traffic by its share of replicas)'));
    for (const kind of ['setHeaderRoute', 'setMirrorRoute'] as const) {
      if (!(kind in step)) continue;
      const route = (step as Record<typeof kind, { name: string }>)[kind];
      // Whether a provider can do it (or there is one at all) is the traffic layer's check (LoadChecks.traffic).
      if (routed && checkRouteNames && !managed.has(route.name)) out.push(issue([...at, kind, 'name'], `route "${route.name}" is not listed in trafficRouting.managedRoutes`, 'reference'));
    }
    if ('setHeaderRoute' in step) {
      (step.setHeaderRoute.match ?? []).forEach((m, j) => {
        const header = m.headerName !== undefined || m.headerValue !== undefined;
        const cookie = m.cookieName !== undefined || m.cookieValue !== undefined;
        const whole = (m.headerName !== undefined && m.headerValue !== undefined && !cookie) || (m.cookieName !== undefined && m.cookieValue !== undefined && !header);
        if (!whole) out.push(issue([...at, 'setHeaderRoute', 'match', j], 'a match needs headerName and headerValue, or cookieName and cookieValue'));
      });
    }
  });
  for (const field of ['scaleDownDelaySeconds', 'abortScaleDownDelaySeconds', 'dynamicStableScale'] as const) {
    if (c[field] !== undefined && c[field] !== false && !routed) out.push(issue([...base, field], `${field} only works with trafficRouting`));
  }
  if (isZero(c.maxSurge) && isZero(c.maxUnavailable)) out.push(issue([...base, 'maxUnavailable'], 'maxSurge and maxUnavailable cannot both be 0'));
  if (c.trafficRouting) out.push(...checkRouting(c.trafficRouting, base));
  for (const p of guardTemplateProblems(c.guard?.prometheus, c)) out.push(issue([...base, 'guard', 'prometheus', p.field], p.message));
  if (c.analysis?.startingStep !== undefined && c.analysis.startingStep >= steps.length) {
    const reason = steps.length ? `startingStep ${c.analysis.startingStep} is past the last step (${steps.length - 1})` : 'startingStep needs steps';
    out.push(issue([...base, 'analysis', 'startingStep'], reason));
  }
  if (!ctx.kubernetes) {
    for (const field of ['canaryService', 'stableService'] as const) {
      if (c[field] !== undefined) out.push(issue([...base, field], 'not used in an App: the built-in router routes by revision'));
    }
  } else if (c.canaryService !== undefined && c.canaryService === c.stableService) {
    out.push(issue([...base, 'stableService'], 'must differ from canaryService'));
  }
  return out;
}

/** Provider-neutral checks of `trafficRouting`; each provider checks its own block (LoadChecks.traffic). */
function checkRouting(r: TrafficRouting, base: PathSegment[]): Issue[] {
  const out: Issue[] = [];
  const at = [...base, 'trafficRouting'];
  const seen = new Set<string>();
  (r.managedRoutes ?? []).forEach((route, i) => {
    if (seen.has(route.name)) out.push(issue([...at, 'managedRoutes', i, 'name'], `duplicate route "${route.name}"`, 'duplicate'));
    seen.add(route.name);
  });
  return out;
}

function checkBlueGreen(b: BlueGreenStrategy, base: PathSegment[], ctx: StrategyContext): Issue[] {
  const out: Issue[] = [];
  if (!ctx.kubernetes) {
    for (const field of ['activeService', 'previewService'] as const) {
      if (b[field] !== undefined) out.push(issue([...base, field], 'not used in an App: the built-in router routes by revision'));
    }
    return out;
  }
  if (b.activeService === undefined) out.push(issue(base, 'missing required field "activeService"'));
  if (b.previewService !== undefined && b.previewService === b.activeService) out.push(issue([...base, 'previewService'], 'must differ from activeService'));
  return out;
}

function templateLabels(template: unknown): Record<string, unknown> {
  const meta = (template as { metadata?: { labels?: unknown } } | undefined)?.metadata;
  const labels = meta?.labels;
  return labels !== null && typeof labels === 'object' ? (labels as Record<string, unknown>) : {};
}

/** Checks a Rollout beyond its strategy. */
export function checkRollout(r: Rollout): Issue[] {
  const out: Issue[] = [];
  const s = r.spec;
  // With workloadRef the Deployment supplies both (as Argo).
  if (s.template === undefined && s.workloadRef === undefined) out.push(issue(['spec'], 'missing required field "template"'));
  if (s.template !== undefined && s.workloadRef !== undefined) out.push(issue(['spec', 'workloadRef'], 'use either template or workloadRef, not both'));
  if (s.selector === undefined && s.workloadRef === undefined) out.push(issue(['spec'], 'missing required field "selector"'));
  const labels = templateLabels(s.template);
  const missing = Object.entries(s.selector?.matchLabels ?? {}).filter(([k, v]) => labels[k] !== v);
  if (s.template !== undefined && missing.length) {
    out.push(issue(['spec', 'selector', 'matchLabels', missing[0]![0]], `selects ${missing.map(([k, v]) => `${k}=${v}`).join(', ')} but spec.template.metadata.labels does not have it`));
  }
  if (s.progressDeadlineSeconds !== undefined && s.minReadySeconds !== undefined && s.progressDeadlineSeconds <= s.minReadySeconds) {
    out.push(issue(['spec', 'progressDeadlineSeconds'], `must be more than minReadySeconds (${s.minReadySeconds})`));
  }
  out.push(...checkStrategy(s.strategy, ['spec', 'strategy'], { kubernetes: true }));
  if (s.hooks) out.push(...checkHooks(s.hooks, ['spec', 'hooks'], { kubernetes: true, strategy: s.strategy }));
  return out;
}

/** Checks an App: its services, their routes, and their strategies. */
export function checkApp(app: App): Issue[] {
  const out: Issue[] = [];
  const listen = app.spec.listen;
  if (listen !== undefined) out.push(...checkPort(listen, ['spec', 'listen']));
  const tls = app.spec.router?.tls;
  if (tls) out.push(...checkPort(tls.listen, ['spec', 'router', 'tls', 'listen']), ...checkTlsHosts(tls.certificates));
  const names = new Map<string, number>();
  const routes = new Map<string, string>();
  app.spec.services.forEach((svc, i) => {
    const at: PathSegment[] = ['spec', 'services', i];
    const first = names.get(svc.name);
    if (first !== undefined) out.push(issue([...at, 'name'], `duplicate service name "${svc.name}" (also spec.services[${first}])`, 'duplicate'));
    else names.set(svc.name, i);
    if (svc.process && svc.targets) out.push(issue(at, 'a service has exactly one of process, targets; found both'));
    if (!svc.process && !svc.targets) out.push(issue(at, 'a service has exactly one of process, targets; found none'));
    // graylane gives each instance its own port in PORT; one set here would be replaced without a word.
    if (svc.process?.env && Object.hasOwn(svc.process.env, 'PORT')) {
      out.push(issue([...at, 'process', 'env', 'PORT'], 'PORT is set by graylane: each instance gets its own port in $PORT, and the app must listen on it; remove PORT from env', 'semantic', 'key'));
    }
    if (svc.targets && svc.strategy) out.push(issue([...at, 'strategy'], 'not allowed on a targets service: graylane does not run it, so it cannot roll it out'));
    (svc.targets ?? []).forEach((t, j) => out.push(...checkPort(t, [...at, 'targets', j])));
    const route = `host ${svc.host ?? '(any)'} pathPrefix ${svc.pathPrefix ?? '/'}`;
    const owner = routes.get(route);
    if (owner !== undefined) out.push(issue([...at, svc.pathPrefix !== undefined ? 'pathPrefix' : svc.host !== undefined ? 'host' : 'name'], `${route} is already served by service "${owner}"`, 'duplicate'));
    else routes.set(route, svc.name);
    if (svc.redirectToHttps && !app.spec.router?.tls) out.push(issue([...at, 'redirectToHttps'], 'needs spec.router.tls: there is no HTTPS listener to redirect to', 'reference'));
    if (svc.strategy) out.push(...checkStrategy(svc.strategy, [...at, 'strategy'], { kubernetes: false }));
    if (svc.hooks && svc.targets) out.push(issue([...at, 'hooks'], 'not allowed on a targets service: graylane does not roll it out'));
    else if (svc.hooks) out.push(...checkHooks(svc.hooks, [...at, 'hooks'], { kubernetes: false, strategy: svc.strategy }));
    (svc.dependsOn ?? []).forEach((dep, j) => {
      if (!app.spec.services.some((x) => x.name === dep)) out.push(issue([...at, 'dependsOn', j], `no service "${dep}" in this App`, 'reference'));
      else if (dep === svc.name) out.push(issue([...at, 'dependsOn', j], 'a service cannot depend on itself'));
    });
  });
  const cycle = dependencyCycle(app);
  if (cycle) out.push(issue(['spec', 'services', app.spec.services.findIndex((s) => s.name === cycle[0]), 'dependsOn'], `dependsOn has a cycle: ${cycle.join(' → ')}`));
  const memberOf = new Map<string, string>();
  (app.spec.releases ?? []).forEach((rel, i) => {
    const at: PathSegment[] = ['spec', 'releases', i];
    if (names.has(rel.name)) out.push(issue([...at, 'name'], `"${rel.name}" is already a service name; a release needs its own name`, 'duplicate'));
    rel.services.forEach((member, j) => {
      const svc = app.spec.services.find((x) => x.name === member);
      if (!svc) out.push(issue([...at, 'services', j], `no service "${member}" in this App`, 'reference'));
      else if (svc.targets) out.push(issue([...at, 'services', j], `service "${member}" routes to targets graylane does not run, so it cannot be part of a release`));
      const other = memberOf.get(member);
      if (other !== undefined) out.push(issue([...at, 'services', j], `service "${member}" is already a member of release "${other}"`, 'duplicate'));
      else memberOf.set(member, rel.name);
    });
    if (!rel.strategy.canary) out.push(issue([...at, 'strategy'], 'releases roll out with a canary strategy (blue-green releases are not supported yet)'));
    else out.push(...checkStrategy(rel.strategy, [...at, 'strategy'], { kubernetes: false }));
    const scale = rel.strategy.canary?.trafficRouting?.maxTrafficWeight;
    if (scale !== undefined && scale !== 100) {
      out.push(issue([...at, 'strategy', 'canary', 'trafficRouting', 'maxTrafficWeight'], `a release moves its members together in percent; leave maxTrafficWeight out or set it to 100, not ${scale}`));
    }
    if (rel.pinning?.abortGrace !== undefined && parseDurationMs(rel.pinning.abortGrace) > MAX_ABORT_GRACE_MS) {
      out.push(issue([...at, 'pinning', 'abortGrace'], `at most ${MAX_ABORT_GRACE_MS / 1000}s: an abort must put every page load back on stable in seconds; only pages already loading keep the canary for the grace`));
    }
    if (rel.pinning?.assetPattern !== undefined) {
      try {
        new RegExp(rel.pinning.assetPattern);
      } catch (err) {
        out.push(issue([...at, 'pinning', 'assetPattern'], `not a valid regular expression: ${(err as Error).message}`));
      }
    }
  });
  if (app.spec.notifications) out.push(...checkNotifications(app.spec.notifications, ['spec', 'notifications']));
  return out;
}

/** Checks a `notifications` block (an App's, or the cluster's ConfigMap's): names unique, one source per value. */
export function checkNotifications(n: Notifications, base: PathSegment[]): Issue[] {
  const out: Issue[] = [];
  const seen = new Set<string>();
  n.receivers.forEach((r, i) => {
    const at = [...base, 'receivers', i];
    if (seen.has(r.name)) out.push(issue([...at, 'name'], `duplicate receiver name "${r.name}"`, 'duplicate'));
    seen.add(r.name);
    if ((r.url === undefined) === (r.urlFrom === undefined)) out.push(issue(at, 'a receiver has exactly one of url, urlFrom'));
    const sources = [...(r.urlFrom ? [{ path: [...at, 'urlFrom'], s: r.urlFrom }] : []), ...Object.entries(r.headers ?? {}).map(([h, s]) => ({ path: [...at, 'headers', h], s }))];
    for (const { path, s } of sources) {
      const count = [s.value, s.fromEnv, s.fromFile].filter((v) => v !== undefined).length;
      if (count !== 1) out.push(issue(path, `exactly one of value, fromEnv, fromFile; found ${count}`));
    }
  });
  return out;
}

/** The first dependsOn cycle among an App's services, as names, or undefined. */
function dependencyCycle(app: App): string[] | undefined {
  const deps = new Map(app.spec.services.map((s) => [s.name, s.dependsOn ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    for (const d of deps.get(name) ?? []) {
      if (d === name || !deps.has(d)) continue;
      const c = visit(d, [...path, name]);
      if (c) return c;
    }
    state.set(name, 'done');
    return undefined;
  };
  for (const s of app.spec.services) {
    const c = visit(s.name, []);
    if (c) return c;
  }
  return undefined;
}

/** A host served by two certificate entries: which one wins would be an accident of order. */
function checkTlsHosts(certificates: { hosts: string[] }[]): Issue[] {
  const out: Issue[] = [];
  const owner = new Map<string, number>();
  certificates.forEach((c, i) => c.hosts.forEach((h, j) => {
    const host = h.toLowerCase();
    const first = owner.get(host);
    if (first !== undefined) out.push(issue(['spec', 'router', 'tls', 'certificates', i, 'hosts', j], `host ${host} is already served by spec.router.tls.certificates[${first}]: a host has one certificate`, 'duplicate'));
    else owner.set(host, i);
  }));
  return out;
}

function checkPort(hostPort: string, path: PathSegment[]): Issue[] {
  const port = Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
  return port >= 1 && port <= 65535 ? [] : [issue(path, `port must be 1-65535, found ${port}`)];
}

/** Every analysis reference of a Rollout or App, with its path. */
export function analysisRefs(doc: Rollout | App): { path: PathSegment[]; analysis: RolloutAnalysis }[] {
  const out: { path: PathSegment[]; analysis: RolloutAnalysis }[] = [];
  const fromStrategy = (s: Strategy | undefined, base: PathSegment[]): void => {
    if (!s) return;
    s.canary?.steps?.forEach((step, i) => {
      if ('analysis' in step) out.push({ path: [...base, 'canary', 'steps', i, 'analysis'], analysis: step.analysis });
    });
    if (s.canary?.analysis) out.push({ path: [...base, 'canary', 'analysis'], analysis: s.canary.analysis });
    for (const f of ['prePromotionAnalysis', 'postPromotionAnalysis'] as const) {
      const a = s.blueGreen?.[f];
      if (a) out.push({ path: [...base, 'blueGreen', f], analysis: a });
    }
  };
  if (doc.kind === 'Rollout') fromStrategy(doc.spec.strategy, ['spec', 'strategy']);
  else doc.spec.services.forEach((svc, i) => fromStrategy(svc.strategy, ['spec', 'services', i, 'strategy']));
  return out;
}

/**
 * Analysis references against the templates loaded with them: each named template exists (only
 * checked when some template was loaded; otherwise they live elsewhere) and gets the args it needs.
 */
export function checkAnalysisRefs(doc: Rollout | App, templates: readonly AnalysisTemplate[]): Issue[] {
  if (templates.length === 0) return [];
  const out: Issue[] = [];
  for (const { path, analysis } of analysisRefs(doc)) {
    const given = new Set((analysis.args ?? []).map((a) => a.name));
    analysis.templates.forEach((ref, k) => {
      const kind = ref.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
      const t = templates.find((x) => x.kind === kind && x.metadata.name === ref.templateName);
      if (!t) {
        out.push(issue([...path, 'templates', k, 'templateName'], `no ${kind} "${ref.templateName}" in the files loaded`, 'reference'));
        return;
      }
      if (doc.kind === 'App') {
        // An App runs on one host, where there is no Kubernetes to run a Job in.
        const job = t.spec.metrics.find((m) => m.provider.job !== undefined);
        if (job) out.push(issue([...path, 'templates', k, 'templateName'], `template "${ref.templateName}" metric "${job.name}" uses the job provider, which runs a Kubernetes Job: not possible on a single host`));
      }
      for (const arg of t.spec.args ?? []) {
        if (arg.value === undefined && arg.valueFrom === undefined && !given.has(arg.name)) {
          out.push(issue(path, `template "${ref.templateName}" needs arg "${arg.name}"`, 'reference'));
        }
      }
    });
  }
  return out;
}

/** Something a valid document does that is likely not what its author meant; loaded all the same. */
export interface SpecAdvice {
  /** `warning`: users or testers will notice; `note`: a reading of the document worth saying. */
  level: 'warning' | 'note';
  /** Where, as a field path. */
  path: PathSegment[];
  /** The sentence. */
  message: string;
}

/** Route advice for every canary strategy of a Rollout or App (see {@link routeAdvice}). */
export function documentAdvice(doc: Rollout | App): SpecAdvice[] {
  if (doc.kind === 'Rollout') return routeAdvice(doc.spec.strategy.canary, ['spec', 'strategy', 'canary'], doc.spec.replicas ?? 1);
  const out: SpecAdvice[] = [];
  doc.spec.services.forEach((svc, i) => out.push(...routeAdvice(svc.strategy?.canary, ['spec', 'services', i, 'strategy', 'canary'], svc.replicas ?? 1)));
  (doc.spec.releases ?? []).forEach((rel, i) => out.push(...routeAdvice(rel.strategy.canary, ['spec', 'releases', i, 'strategy', 'canary'], 1)));
  return out;
}

/**
 * Header and mirror routes that cannot do what they seem to: a route in force while the rollout
 * waits (a pause or an analysis) with no canary instance sends nothing to the canary (the router
 * serves matching requests from stable, and mirrored copies have nowhere to go); a `setMirrorRoute`
 * without `match` removes the route, which reads like "mirror everything".
 */
export function routeAdvice(c: CanaryStrategy | undefined, base: PathSegment[], replicas: number): SpecAdvice[] {
  const steps = c?.steps ?? [];
  const out: SpecAdvice[] = [];
  steps.forEach((step, i) => {
    const at = [...base, 'steps', i];
    const kind = 'setHeaderRoute' in step ? 'setHeaderRoute' : 'setMirrorRoute' in step ? 'setMirrorRoute' : undefined;
    if (!kind) return;
    const route = kind === 'setHeaderRoute' ? (step as { setHeaderRoute: { name: string; match?: unknown[] } }).setHeaderRoute : (step as { setMirrorRoute: { name: string; match?: unknown[] } }).setMirrorRoute;
    if (!route.match?.length) {
      if (kind === 'setMirrorRoute') {
        const setBefore = steps.slice(0, i).some((s) => 'setMirrorRoute' in s && s.setMirrorRoute.name === route.name && (s.setMirrorRoute.match?.length ?? 0) > 0);
        out.push({ level: 'note', path: [...at, kind], message: `setMirrorRoute without match removes mirror route "${route.name}"${setBefore ? '' : ', which no earlier step sets: nothing is mirrored'}; to mirror every request, give a match such as [{path: {prefix: /}}]` });
      }
      return;
    }
    const wait = waitingStepWhileRouted(steps, i, kind, route.name);
    if (wait === undefined || replicas < 1 || !canaryEmptyAt(steps, wait)) return;
    const what = kind === 'setHeaderRoute' ? 'requests matching it are served by stable, so testers do not reach the new revision' : 'mirrored copies have nowhere to go';
    out.push({ level: 'warning', path: [...at, kind], message: `route "${route.name}" is still in force at steps[${wait}] (${'pause' in steps[wait]! ? 'pause' : 'analysis'}) while the canary has no instance (weight 0, no setCanaryScale): ${what}; add a step {setCanaryScale: {replicas: 1}} before it` });
  });
  return out;
}

type Steps = NonNullable<CanaryStrategy['steps']>;

/** The first pause or analysis step after `from` while the named route is still in force. */
function waitingStepWhileRouted(steps: Steps, from: number, kind: 'setHeaderRoute' | 'setMirrorRoute', name: string): number | undefined {
  for (let j = from + 1; j < steps.length; j++) {
    const s = steps[j]!;
    if ('pause' in s || 'analysis' in s) return j;
    if (kind in s && (s as Record<string, { name: string }>)[kind]!.name === name) return undefined;
  }
  return undefined;
}

/**
 * No canary instance at step `index`, by the rule that sizes it: the last setCanaryScale at or
 * before it (unless it says matchTrafficWeight), else the last setWeight (0 before the first).
 */
function canaryEmptyAt(steps: Steps, index: number): boolean {
  for (let j = index; j >= 0; j--) {
    const s = steps[j]!;
    if (!('setCanaryScale' in s)) continue;
    if (s.setCanaryScale.matchTrafficWeight) break;
    return (s.setCanaryScale.replicas ?? s.setCanaryScale.weight ?? 0) === 0;
  }
  for (let j = index; j >= 0; j--) {
    const s = steps[j]!;
    if ('setWeight' in s) return s.setWeight === 0;
  }
  return true;
}
