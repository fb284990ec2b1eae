/**
 * What the API server (and so the CLI's daemon client and the console) asks of whatever holds the
 * rollouts: the single host's controller (a {@link ControlPlane} is one), or a cluster read and
 * operated from a workstation by `graylane dashboard`. One server, two places.
 */
import type { ControlPlane, OperateOptions } from '../controller/control-plane.js';
import type { AnalysisRunView, DataPlaneView, EventView, Operation, PlanView, RevisionView, ServiceView } from './contract/index.js';

/** A value now or later: the controller answers from memory, a cluster over the network. */
export type Awaitable<T> = T | Promise<T>;

/** The rollouts behind an API server. Methods answer ControlPlaneError (NotFound, InvalidOperation, Conflict …) as the controller does. */
export interface ApiBackend {
  /** Where the rollouts run: the console says so and adapts (no apply or logs on a cluster). */
  readonly place?: 'single-host' | 'kubernetes';
  /** Validates and applies an App file; absent where files are applied another way (kubectl on a cluster). */
  apply?: ControlPlane['apply'];
  /** Every service's (or release's) current view. */
  list(): Awaitable<ServiceView[]>;
  /** One view; ControlPlaneError NotFound when there is none. */
  get(name: string): Awaitable<ServiceView>;
  /** Runs a person's operation; ControlPlaneError InvalidOperation or Conflict when it cannot. */
  operate(name: string, operation: Operation, options?: OperateOptions): Promise<ServiceView>;
  /** Revisions, newest first; environment values masked unless `showEnv`. */
  history(name: string, options?: { showEnv?: boolean }): Awaitable<RevisionView[]>;
  /** Analysis runs, newest first. */
  analysis(name: string): Awaitable<AnalysisRunView[]>;
  /** Events, oldest first. */
  events(options?: { service?: string; afterId?: number; limit?: number }): Awaitable<EventView[]>;
  /** Calls listener on every new event and view change; returns the unsubscribe function. */
  subscribe(listener: (change: { event?: EventView; view?: ServiceView }) => void): () => void;
  /** Instance logs; absent where the server cannot read them. */
  logs?: ControlPlane['logs'];
  /** The rollout's plan and where it is on it; absent where the spec is not at hand. */
  plan?(name: string): Awaitable<PlanView>;
  /** The single host's data plane (router workers and their deaths); absent on a cluster. */
  dataPlane?(): Awaitable<DataPlaneView>;
}
