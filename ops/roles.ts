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
  { name: 'processor:counters', script: 'processors/main.js', args: ['counters', '--consumers', '1'], copies: () => 1 },
  { name: 'processor:inbox', script: 'processors/main.js', args: ['inbox', '--consumers', '1'], copies: () => 1 },
  { name: 'processor:receipts', script: 'processors/main.js', args: ['receipts', '--consumers', '1'], copies: () => 1 },
  { name: 'processor:attachment-scan', script: 'processors/main.js', args: ['attachment-scan', '--consumers', '1'], copies: () => 1 },
  { name: 'processor:attachment-validate', script: 'processors/main.js', args: ['attachment-validate', '--consumers', '1'], copies: () => 1 },
  { name: 'processor:attachment-thumbnail', script: 'processors/main.js', args: ['attachment-thumbnail', '--consumers', '1'], copies: () => 1 },
];
