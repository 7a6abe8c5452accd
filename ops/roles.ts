// The role processes `npm start` runs, one line each. A role is a compiled entrypoint under dist/
// with its arguments and how many copies to run; the supervisor (ops/stack.ts) forks and restarts
// them. Adding a worker or another processor group is one more line here.
import os from 'node:os';
import type { Config } from '../config/index.js';

export interface RoleSpec {
  /** Name in logs (unique). */
  name: string;
  /** Entrypoint relative to dist/. */
  script: string;
  args: string[];
  copies: (config: Config) => number;
  /** Extra environment of one copy (e.g. its /metrics port). */
  env?: (config: Config, copy: number) => NodeJS.ProcessEnv;
  /**
   * Off the realtime path (derived projections, workers): started at CHORUS_BACKGROUND_NICE, so on
   * a busy machine the gateways and Redis get the CPU first and these catch up with what is left.
   */
  background?: boolean;
}

/**
 * Every copy of every role serves its own /metrics on PORT + 100 + 10·n + copy (n: its place
 * below): gateways share PORT, where a scrape reaches one of them at random, so each also has its own.
 */
const metricsPort = (n: number) => (config: Config, copy: number) => ({ CHORUS_METRICS_PORT: String(config.port + 100 + n * 10 + copy) });

export const ROLES: readonly RoleSpec[] = [
  // Several gateways share the port (SO_REUSEPORT) and the Redis.
  { name: 'gateway', script: 'gateway/main.js', args: [], copies: (c) => c.gateway.processes, env: metricsPort(0) },
  // Light consumer groups share one process; any group can be scaled out with
  // `npm run chorus -- processor <group> --consumers N` or more processes.
  // `group:N` runs N consumers of one group. The projector is persist, counters, inbox and receipts
  // in one group and one transaction per batch (processors/projector.ts).
  { name: 'processors', script: 'processors/main.js', args: ['projector', '--consumers', '1'], copies: () => 1, env: metricsPort(1), background: true },
  // The attachment stages do CPU work in piscina pools: their own process.
  { name: 'attachments', script: 'processors/main.js', args: ['attachment-scan,attachment-validate,attachment-thumbnail', '--consumers', '1'], copies: () => 1, env: metricsPort(2), background: true },
  // Notifications: intents plus one group per channel, each over its own queue (a slow provider delays only its channel).
  { name: 'notifications', script: 'processors/main.js', args: ['notify-intents,notify-inapp,notify-email,notify-push', '--consumers', '1'], copies: () => 1, env: metricsPort(3), background: true },
];

/**
 * The environment of one copy of a role: its own (metrics port) and its `node` metric label,
 * `<CHORUS_NODE_NAME or hostname>:<role>[#copy]`, the same name the supervisor logs it under.
 */
export function roleEnv(config: Config, spec: RoleSpec, copy: number, copies: number): NodeJS.ProcessEnv {
  const node = `${config.nodeName ?? os.hostname()}:${spec.name}${copies > 1 ? `#${copy + 1}` : ''}`;
  return { ...spec.env?.(config, copy), CHORUS_NODE_NAME: node };
}
