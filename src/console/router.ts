/**
 * The console's routing: the history API and four routes, no library (the server answers
 * index.html for any GET outside /v1, so a reload lands on the same page).
 */
import { useSyncExternalStore } from 'react';

/** Where the console is: the overview, a service's rollout, a release, or the sign-in form. */
export type Route =
  | { page: 'overview' }
  | { page: 'rollout'; name: string }
  | { page: 'release'; name: string }
  | { page: 'sign-in' }
  | { page: 'not-found'; path: string };

/** The route of a path (`/services/api` → the rollout page of `api`). */
export function routeOf(path: string): Route {
  if (path === '/' || path === '') return { page: 'overview' };
  if (path === '/sign-in') return { page: 'sign-in' };
  const m = /^\/(services|releases)\/([^/]+)\/?$/.exec(path);
  if (m?.[2]) {
    let name: string;
    try {
      name = decodeURIComponent(m[2]);
    } catch {
      return { page: 'not-found', path };
    }
    return m[1] === 'services' ? { page: 'rollout', name } : { page: 'release', name };
  }
  return { page: 'not-found', path };
}

/** The path of a service's (or a release's) page. */
export function pathOf(name: string, kind: 'service' | 'release'): string {
  return `/${kind === 'release' ? 'releases' : 'services'}/${encodeURIComponent(name)}`;
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** Goes to `path` without a reload (replacing the entry when the user should not come back to it). */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

/** The current path, re-rendering on every navigation. */
export function usePath(): string {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => window.location.pathname,
  );
}
