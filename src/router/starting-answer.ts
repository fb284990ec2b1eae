/**
 * What a data plane answers before its control plane gave it the first route table: 503 with
 * `Retry-After` and this text, marked `x-graylane-error: router-starting`. It does not know yet what
 * it serves, so "no service routes" (404) would tell a client its URL is wrong when it is early.
 * The built-in router and the managed nginx answer alike.
 */
export const ROUTER_STARTING_TEXT = 'graylane: starting: no route table yet, retry shortly';
