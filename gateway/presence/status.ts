// The pure helpers every part of the gateway's presence shares: the update shape published on shard
// channels (identical to a presence.batch item), shard assignment, load statistics. The statuses
// themselves are core's (core/presence.ts), because notification delivery reads them too.
import type { Config } from '../../config/index.js';
import { isStatus, type Status } from '../../core/presence.js';

/** One user's presence at one version: the payload of a shard message and an item of presence.batch. */
export interface PresenceUpdate {
  userId: string;
  status: Status;
  /** Monotonic per user: a receiver ignores an update whose version is not newer than the one it has. */
  version: number;
  /** When the status took this value (ISO 8601, Redis clock). */
  at: string;
}

/** FNV-1a (32 bit): stable across processes and platforms, cheap, spreads short ids well. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function shardCount(config: Config, tenantId: string): number {
  return config.presence.shardsByTenant[tenantId] ?? config.presence.shards;
}

/** shardId = hash(userId) % N, N per tenant. */
export function shardOf(config: Config, tenantId: string, userId: string): number {
  return fnv1a(userId) % shardCount(config, tenantId);
}

/** The tenant of a presence shard channel (`chorus:presence:{acme}:17` → `acme`), or null. */
export function tenantOfChannel(channel: string): string | null {
  const a = channel.indexOf('{');
  const b = channel.indexOf('}', a + 1);
  return a >= 0 && b > a + 1 ? channel.slice(a + 1, b) : null;
}

/** A shard message as published by another gateway; null when it is not a well-formed update. */
export function parseUpdate(message: string): PresenceUpdate | null {
  let o: unknown;
  try {
    o = JSON.parse(message);
  } catch {
    return null;
  }
  const u = o as Partial<PresenceUpdate> | null;
  if (!u || typeof u.userId !== 'string' || !isStatus(u.status) || !Number.isSafeInteger(u.version) || typeof u.at !== 'string') return null;
  return { userId: u.userId, status: u.status, version: u.version as number, at: u.at };
}

/** Counts by status, the payload of presence.summary. */
export type Counts = Record<Status, number>;

export function countStatuses(statuses: Iterable<Status>): Counts {
  const c: Counts = { online: 0, away: 0, dnd: 0, offline: 0 };
  for (const s of statuses) c[s]++;
  return c;
}

/** Nearest-rank quantile of a sorted array (0 for an empty one). */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export interface ShardLoad {
  p50: number;
  p95: number;
  max: number;
  total: number;
  /** p95 > 2 × p50 over enough samples (at least two updates per shard on average). */
  rebalance: boolean;
}

/** Load statistics of one tenant's shards from the per-shard update counts of one window. */
export function shardLoad(countsByShard: Record<string, string | number>, shards: number): ShardLoad {
  const loads = Array.from({ length: shards }, (_, i) => Number(countsByShard[String(i)] ?? 0)).sort((a, b) => a - b);
  const total = loads.reduce((a, b) => a + b, 0);
  const p50 = quantile(loads, 0.5);
  const p95 = quantile(loads, 0.95);
  return { p50, p95, max: loads[loads.length - 1] ?? 0, total, rebalance: total >= 2 * shards && p95 > 2 * Math.max(1, p50) };
}
