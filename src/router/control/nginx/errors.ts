/** Errors of the nginx data plane. */

/** Why a route table or a setting cannot become an nginx configuration. */
export type NginxRenderErrorCode = 'Unsupported' | 'UnsupportedName' | 'UnsupportedMatch';

/** A route table nginx cannot route as graylane's router would; nothing was written. */
export class NginxRenderError extends Error {
  override readonly name = 'NginxRenderError';
  constructor(
    /** Machine-readable kind. */
    readonly code: NginxRenderErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What went wrong running or reloading nginx. */
export type NginxRunErrorCode = 'InvalidConfig' | 'StartFailed' | 'ReloadFailed' | 'NotStarted';

/** nginx refused a configuration, did not start, or did not reload; the table in force stays. */
export class NginxRunError extends Error {
  override readonly name = 'NginxRunError';
  constructor(
    /** Machine-readable kind. */
    readonly code: NginxRunErrorCode,
    message: string,
  ) {
    super(message);
  }
}
