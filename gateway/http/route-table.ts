// The routes a gateway serves, as registered on its uWS app: the router's JSON routes, the local
// store's raw object routes and the websocket upgrade alike. uWS keeps no list that can be read
// back, so the app is wrapped once, before anything registers on it, and every registration is
// recorded on its way through. test/int/spec-routes.int.test.ts holds this list against
// docs/openapi.yaml in both directions.
import type { TemplatedApp } from 'uWebSockets.js';

/** One registration: the HTTP method (`WS` for a websocket upgrade, `ANY` for a catch-all) and the uWS pattern. */
export interface RouteEntry {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'HEAD' | 'CONNECT' | 'TRACE' | 'ANY' | 'WS';
  /** The uWS pattern, e.g. `/api/threads/:threadId` or `/*`. */
  pattern: string;
}

const REGISTRARS: Record<string, RouteEntry['method']> = {
  get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE', options: 'OPTIONS', head: 'HEAD',
  connect: 'CONNECT', trace: 'TRACE', any: 'ANY', ws: 'WS',
};

/**
 * The app itself for everything but registrations, which are recorded in `routes` before they reach
 * it. Chained calls (`app.get(…).post(…)`) keep going through the recorder.
 */
export function recordRoutes(app: TemplatedApp): { app: TemplatedApp; routes: readonly RouteEntry[] } {
  const routes: RouteEntry[] = [];
  const recorded: TemplatedApp = new Proxy(app, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      const method = typeof prop === 'string' ? REGISTRARS[prop] : undefined;
      if (!method) return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        if (typeof args[0] === 'string') routes.push({ method, pattern: args[0] });
        const out: unknown = Reflect.apply(value, target, args);
        return out === target ? recorded : out;
      };
    },
  });
  return { app: recorded, routes };
}
