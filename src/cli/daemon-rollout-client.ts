/** The daemon's API client seen as a {@link RolloutClient}. */
import type { ApiClient } from '../api/client.js';
import type { DataPlaneView } from '../api/contract/index.js';
import type { Operation } from '../controller/control-plane.js';
import type { AnalysisRunView, RevisionView, ServiceView } from '../controller/view-model.js';
import type { OperateOptions, RolloutClient } from './rollout-client.js';

/** See the file comment. */
export class DaemonRolloutClient implements RolloutClient {
  constructor(private readonly api: ApiClient) {}

  /** {@inheritDoc RolloutClient.list} */
  async list(): Promise<ServiceView[]> {
    return (await this.api.list()).services;
  }

  /** {@inheritDoc RolloutClient.dataPlane} */
  dataPlane(): Promise<DataPlaneView> {
    return this.api.dataPlane();
  }

  /** {@inheritDoc RolloutClient.get} */
  get(name: string): Promise<ServiceView> {
    return this.api.get(name);
  }

  /** {@inheritDoc RolloutClient.history} */
  async history(name: string, options: { showEnv: boolean }): Promise<RevisionView[]> {
    return (await this.api.history(name, options)).revisions;
  }

  /** {@inheritDoc RolloutClient.analysis} */
  async analysis(name: string): Promise<AnalysisRunView[]> {
    return (await this.api.analysis(name)).runs;
  }

  /**
   * {@inheritDoc RolloutClient.operate}
   * Without a version given, the one read just before: a concurrent operator's change in between
   * then gets the daemon's 409 and a sentence instead of being undone.
   */
  async operate(name: string, operation: Operation, options: OperateOptions): Promise<ServiceView> {
    const expectedVersion = options.expectedVersion ?? (await this.api.get(name)).version;
    return this.api.operate(name, operation, { expectedVersion });
  }

  /** {@inheritDoc RolloutClient.watch} */
  async *watch(name: string, signal: AbortSignal): AsyncIterable<ServiceView> {
    for await (const msg of this.api.stream({ service: name, signal })) {
      if (msg.type === 'status') yield msg.data as ServiceView;
    }
  }
}
