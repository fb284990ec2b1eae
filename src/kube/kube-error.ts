/**
 * The one shape of the errors of src/kube: a class per concern, each with a string-literal union
 * of codes, its own `name` (the subclass's) and an optional `cause`. Shared here so that the
 * classes state only what differs: their codes and any field of their own.
 */

/** An error of the Kubernetes client code; `code` says which, within the subclass's union. */
export abstract class KubeError<Code extends string> extends Error {
  constructor(
    /** Machine-readable error code. */
    readonly code: Code,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    // The subclass's name, so that a log or a stack says which concern failed.
    this.name = new.target.name;
  }
}
