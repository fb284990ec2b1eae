/** Errors of the runtime port and its adapters; each has a stable `code` for the API and the CLI. */

/** Base class: every runtime error carries a `code`. */
export class RuntimeError extends Error {
  constructor(
    /** Machine-readable error code. */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An adapter was asked for something it does not do (e.g. stopping a static target). */
export class RuntimeCapabilityError extends RuntimeError {
  constructor(
    /** The adapter's type. */
    readonly runtimeType: string,
    /** The operation asked for. */
    readonly operation: string,
    reason: string,
  ) {
    super('RuntimeCapability', `the ${runtimeType} runtime cannot ${operation}: ${reason}`);
  }
}

/** The command of a process template cannot be found (not on PATH, or no such file). */
export class CommandNotFoundError extends RuntimeError {
  constructor(
    /** The command as written in the template. */
    readonly command: string,
    /** The directory it was resolved from. */
    readonly cwd: string,
    detail: string,
  ) {
    super('CommandNotFound', `command "${command}" not found (cwd ${cwd}): ${detail}`);
  }
}

/** The working directory of a process template does not exist or is not a directory. */
export class CwdNotFoundError extends RuntimeError {
  constructor(
    /** The resolved directory. */
    readonly cwd: string,
    detail: string,
  ) {
    super('CwdNotFound', `working directory ${cwd} ${detail}; fix "cwd" (it is relative to the App file)`);
  }
}

/** No instance with that id is tracked by this runtime. */
export class InstanceNotFoundError extends RuntimeError {
  constructor(
    /** The id asked for. */
    readonly id: string,
  ) {
    super('InstanceNotFound', `no instance "${id}" in this runtime`);
  }
}

/** A request was malformed (negative replicas, bad target…). */
export class RuntimeInputError extends RuntimeError {
  constructor(message: string) {
    super('RuntimeInput', message);
  }
}
