// The role processes `npm start` runs, one line each. A role is a compiled entrypoint under dist/
// with its arguments and how many copies to run; the supervisor (ops/stack.ts) forks and restarts
// them. Adding a worker or another processor group is one more line here.
import type { Config } from '../config/index.js';

export interface RoleSpec {
  /** Name in logs (unique). */
  name: string;
  /** Entrypoint relative to dist/. */
  script: string;
  args: string[];
  copies: (config: Config) => number;
}

export const ROLES: readonly RoleSpec[] = [
  // Several gateways share the port (SO_REUSEPORT) and the Redis.
  { name: 'gateway', script: 'gateway/main.js', args: [], copies: (c) => c.gateway.processes },
  { name: 'processor:persist', script: 'processors/main.js', args: ['persist', '--consumers', '1'], copies: () => 1 },
];
