// The world a run builds, derived deterministically from the profile: every process computes the
// same tenants, users, threads and assignments, so only server-made thread ids travel over IPC.
import type { WorldSpec } from './profile.js';
import { hashSeed, seededRng, shuffle } from './rng.js';

export interface WorldUser {
  /** Global index (position in `users`). */
  index: number;
  tenant: number;
  id: string;
  /** Generator process that hosts this user's websocket client. */
  worker: number;
  threads: number[];
}

export interface WorldThread {
  index: number;
  tenant: number;
  /** Global user indices. */
  participants: number[];
  /** The participant who creates the thread (global user index). */
  creator: number;
  /** Relative send weight: tenant share spread over its threads. */
  weight: number;
  /** Generator that creates the thread and sends its messages (it hosts the creator). */
  sender: number;
}

export interface World {
  tenants: string[];
  users: WorldUser[];
  threads: WorldThread[];
  /** Order in which clients connect (and, reversed, leave on a ramp-down). */
  activation: number[];
}

export function tenantId(prefix: string, t: number): string {
  return `${prefix}-t${t}`;
}

function splitUsers(spec: WorldSpec): number[] {
  const counts: number[] = [];
  if (spec.hotTenant) {
    const hot = Math.max(1, Math.round(spec.users * spec.hotTenant.share));
    counts.push(hot);
    const rest = spec.users - hot;
    for (let t = 1; t < spec.tenants; t++) counts.push(Math.floor(rest / (spec.tenants - 1)) + (t - 1 < rest % (spec.tenants - 1) ? 1 : 0));
  } else {
    for (let t = 0; t < spec.tenants; t++) counts.push(Math.floor(spec.users / spec.tenants) + (t < spec.users % spec.tenants ? 1 : 0));
  }
  return counts;
}

function messageShares(spec: WorldSpec, userCounts: number[]): number[] {
  if (spec.hotTenant) {
    const { share, silent } = spec.hotTenant;
    // Silent: the other tenants keep exactly their per-thread weights; senders pick by weight over
    // the remaining total, so the profile's rate must be scaled by (1 - share) to keep theirs.
    return userCounts.map((_, t) => (t === 0 ? (silent ? 0 : share) : (1 - share) / (spec.tenants - 1)));
  }
  return userCounts.map((c) => c / spec.users);
}

export function buildWorld(spec: WorldSpec, workers: number, tenantPrefix: string, seedText: string): World {
  const tenants: string[] = [];
  const users: WorldUser[] = [];
  const threads: WorldThread[] = [];
  const counts = splitUsers(spec);
  const shares = messageShares(spec, counts);
  for (let t = 0; t < spec.tenants; t++) {
    tenants.push(tenantId(tenantPrefix, t));
    const first = users.length;
    const n = counts[t] as number;
    const width = String(n - 1).length;
    for (let i = 0; i < n; i++) {
      const index = users.length;
      users.push({ index, tenant: t, id: `u${String(i).padStart(width, '0')}`, worker: index % workers, threads: [] });
    }
    // Thread j takes the k consecutive users from j·k (wrapping): every user ends up in
    // `threadsPerUser` threads and no thread repeats a participant.
    const k = Math.min(spec.participantsPerThread, n);
    const threadCount = Math.max(1, Math.round((n * spec.threadsPerUser) / k));
    for (let j = 0; j < threadCount; j++) {
      const participants: number[] = [];
      for (let i = 0; i < k; i++) participants.push(first + ((j * k + i) % n));
      const index = threads.length;
      // Owners rotate over the generators (when a participant lives on each), so that every
      // generator owns a similar slice of every tenant's threads.
      const creator = (participants.find((u) => u % workers === index % workers) ?? participants[0]) as number;
      threads.push({ index, tenant: t, participants, creator, weight: (shares[t] as number) / threadCount, sender: (users[creator] as WorldUser).worker });
      for (const u of participants) (users[u] as WorldUser).threads.push(index);
    }
  }
  const activation = shuffle(users.map((u) => u.index), seededRng(hashSeed(seedText)));
  return { tenants, users, threads, activation };
}

/** Per generator: how many of the first `total` clients in activation order it hosts. */
export function targetsByWorker(world: World, total: number, workers: number): number[] {
  const out = new Array<number>(workers).fill(0);
  for (let i = 0; i < Math.min(total, world.activation.length); i++) {
    const u = world.users[world.activation[i] as number] as WorldUser;
    out[u.worker] = (out[u.worker] as number) + 1;
  }
  return out;
}
