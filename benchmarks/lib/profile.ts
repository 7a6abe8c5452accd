// Workload profiles (benchmarks/profiles/<name>.json): the world to build, the stages of the
// timeline and the thresholds. Versioned (`profileVersion`) so that reports of different releases
// state which workload they measured; --scale shortens every duration, never a rate.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROFILE_VERSION = 1;
export const PROFILES_DIR = fileURLToPath(new URL('../../../benchmarks/profiles/', import.meta.url));

export interface WorldSpec {
  tenants: number;
  /** Websocket clients, one user each. */
  users: number;
  participantsPerThread: number;
  /** How many threads each user takes part in (threads per tenant = users × this / participants). */
  threadsPerUser: number;
  /**
   * Tenant 0 takes this share of users and messages (the rest is spread evenly). `silent`: its
   * clients still connect and its threads exist, but it sends no messages (the others keep their
   * share): the baseline of the hot-tenant isolation comparison.
   */
  hotTenant?: { share: number; silent?: boolean };
  /** Seeds the world's random choices (connect order); default the profile's name. */
  seed?: string;
}

export interface ReconnectSpec {
  /** Share of the clients connected at the stage start that drop and resume with lastSeq during it. */
  fraction: number;
  /** Each dropped client stays offline a random time up to this before resuming (default 0). */
  offlineMaxS?: number;
}

export interface Stage {
  name: string;
  durationS: number;
  /** Open-loop message rate over the stage (all generators together); default 0. */
  messagesPerMin?: number;
  /** Websocket clients at the stage end; linear ramp from the count at its start. Default: unchanged. */
  connections?: number;
  /** Status changes sent as presence.heartbeat frames, per second, spread over connected clients. */
  presenceTransitionsPerS?: number;
  reconnect?: ReconnectSpec;
  /** Warmup stages are left out of the latency figures and thresholds. */
  warmup?: boolean;
}

/** The `max` profile: raise the rate step by step until p99 or errors break the limit. */
export interface RateSearch {
  startPerS: number;
  /** Each step multiplies the rate by this (> 1). */
  stepFactor: number;
  stepS: number;
  maxPerS: number;
  p99LimitMs: number;
  /** 5xx + transport errors + rejected (429) over sent, per step. */
  maxErrorRate: number;
}

export interface Profile {
  profileVersion: number;
  name: string;
  description: string;
  world: WorldSpec;
  /** Characters per message body. */
  bodyChars: number;
  /** presence.heartbeat period per client; 0 = none. */
  heartbeatIntervalS: number;
  /** After each hello, subscribe to the presence of the user's threads (as a chat client would). */
  presenceSubscribe: boolean;
  /** Clients connected before the timeline starts, and how fast. */
  startConnections: number;
  connectRatePerS: number;
  maxClientsPerWorker: number;
  /** Lower bound on generator processes (more are forked when the clients need them). */
  workers: number;
  /** Sends in flight per generator above which a due send is skipped (k6 "dropped iteration"). */
  maxInFlightPerWorker: number;
  stages: Stage[];
  rateSearch?: RateSearch;
  /** After the last send: wait at most this long for deliveries to settle. */
  drainS: number;
  /** A client that leaves on a ramp-down owes messages accepted at least this long before it left. */
  leaveGraceS: number;
  thresholds: Record<string, string[]>;
}

const DEFAULTS: Omit<Profile, 'name' | 'description' | 'world' | 'stages' | 'thresholds'> = {
  profileVersion: PROFILE_VERSION,
  bodyChars: 120,
  heartbeatIntervalS: 25,
  presenceSubscribe: true,
  startConnections: 0,
  connectRatePerS: 500,
  maxClientsPerWorker: 9000,
  workers: 1,
  maxInFlightPerWorker: 1000,
  drainS: 10,
  leaveGraceS: 5,
};

export class ProfileError extends Error {}

function need(cond: boolean, msg: string): void {
  if (!cond) throw new ProfileError(msg);
}

export function validateProfile(raw: unknown): Profile {
  need(!!raw && typeof raw === 'object', 'profile must be a JSON object');
  const p = { ...DEFAULTS, ...(raw as Partial<Profile>) } as Profile;
  need(p.profileVersion === PROFILE_VERSION, `profileVersion must be ${PROFILE_VERSION}`);
  need(typeof p.name === 'string' && p.name.length > 0, 'name is required');
  const w = p.world;
  need(!!w && w.tenants >= 1 && w.users >= w.tenants, 'world: tenants >= 1 and users >= tenants');
  need(w.participantsPerThread >= 1 && w.threadsPerUser >= 1, 'world: participantsPerThread and threadsPerUser >= 1');
  if (w.hotTenant) need(w.hotTenant.share > 0 && w.hotTenant.share < 1 && w.tenants >= 2, 'world.hotTenant.share in (0,1) with >= 2 tenants');
  if (w.seed !== undefined) need(typeof w.seed === 'string' && w.seed.length > 0, 'world.seed must be a non-empty string');
  if (w.hotTenant?.silent !== undefined) need(typeof w.hotTenant.silent === 'boolean', 'world.hotTenant.silent must be a boolean');
  need(p.maxClientsPerWorker >= 1 && p.maxClientsPerWorker <= 9000, 'maxClientsPerWorker in 1..9000 (20k open files per process)');
  need(p.bodyChars >= 24 && p.bodyChars <= 4000, 'bodyChars in 24..4000');
  need(p.startConnections <= w.users, 'startConnections <= world.users');
  need(Array.isArray(p.stages), 'stages must be an array');
  for (const s of p.stages) {
    need(typeof s.name === 'string' && s.durationS > 0, `stage ${s.name}: durationS > 0`);
    if (s.connections !== undefined) need(s.connections >= 0 && s.connections <= w.users, `stage ${s.name}: connections in 0..users`);
    if (s.reconnect) need(s.reconnect.fraction > 0 && s.reconnect.fraction <= 1, `stage ${s.name}: reconnect.fraction in (0,1]`);
  }
  need(p.startConnections > 0 || p.stages[0]?.connections !== undefined, 'no clients: set startConnections or the first stage\'s connections');
  if (p.rateSearch) {
    const r = p.rateSearch;
    need(r.startPerS > 0 && r.stepFactor > 1 && r.stepS > 0 && r.maxPerS >= r.startPerS, 'rateSearch: startPerS > 0, stepFactor > 1, maxPerS >= startPerS');
  } else need(p.stages.length > 0, 'a profile needs stages or a rateSearch');
  need(!!p.thresholds && typeof p.thresholds === 'object', 'thresholds must be an object (may be empty)');
  return p;
}

/** A profile by name (benchmarks/profiles/<name>.json) or by path. */
export function loadProfile(nameOrPath: string): Profile {
  const file = nameOrPath.endsWith('.json') ? path.resolve(nameOrPath) : path.join(PROFILES_DIR, `${nameOrPath}.json`);
  if (!fs.existsSync(file)) {
    const known = fs.existsSync(PROFILES_DIR) ? fs.readdirSync(PROFILES_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : [];
    throw new ProfileError(`no profile ${nameOrPath} (${file}); known: ${known.join(', ')}`);
  }
  return validateProfile(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/** Shortens every duration by `scale` (rates, counts and thresholds unchanged). */
export function scaleProfile(p: Profile, scale: number): Profile {
  if (scale === 1) return p;
  const d = (s: number, min: number) => Math.max(min, Math.round(s * scale * 10) / 10);
  return {
    ...p,
    stages: p.stages.map((s) => ({ ...s, durationS: d(s.durationS, s.warmup ? 3 : 1) })),
    rateSearch: p.rateSearch ? { ...p.rateSearch, stepS: d(p.rateSearch.stepS, 5) } : undefined,
  };
}

/** How many generator processes a profile needs. */
export function workerCount(p: Profile, override?: number): number {
  return Math.max(override ?? p.workers, Math.ceil(p.world.users / p.maxClientsPerWorker));
}
