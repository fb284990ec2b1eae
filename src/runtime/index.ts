/** The runtime port and its adapters, for the daemon (controller/) and the CLI. */
export type {
  AdoptRecord, AdoptRejection, AdoptResult, BeforeStop, EnsureInstancesRequest, InstanceChange, InstanceFilter, InstanceInfo,
  InstanceState, LogLine, ReadLogsRequest, Runtime, RuntimeCapabilities, StopInstanceRequest,
} from './runtime.js';
export {
  CommandNotFoundError, CwdNotFoundError, InstanceNotFoundError, RuntimeCapabilityError, RuntimeError, RuntimeInputError,
} from './errors.js';
export { createRuntime, isRuntimeType, runtimeTypeOf, runtimeTypes, type RuntimeAdapters, type RuntimeType } from './registry.js';
export { adoptRecordOf, ProcessRuntime, type ProcessRuntimeOptions } from './process/process-runtime.js';
export {
  KubernetesRuntime, type KubernetesRuntimeOptions, type RemoveRevisionRequest, type RestartPodsRequest, type RestartPodsResult,
} from './kubernetes/kubernetes-runtime.js';
export { ForeignReplicaSetError, KubernetesWriteError, ReplicaSetConflictError } from './kubernetes/kubernetes-errors.js';
export type { KubernetesRevisionTemplate, RevisionOwner } from './kubernetes/replica-set-body.js';
export { StaticRuntime, parseTarget, type StaticRuntimeOptions, type StaticTemplate } from './static/static-runtime.js';
export { waitForInstances, type WaitForInstancesOptions } from './wait.js';
export { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export { DEFAULT_LOG_ROTATION, type LogRotation } from './process/log-files.js';
