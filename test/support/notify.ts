// Helpers of the notification integration tests: the local SMTP and push sinks (started here when
// `services up` did not start them), what they received, their control switches, and the
// notification groups in this process with quick retry/digest/breaker settings, and the stack
// fixture both notification test files share (useNotifyStack).
import crypto from 'node:crypto';
import type { Config } from '../../config/index.js';
import { withTenant, type Sql } from '../../core/db.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import { startProcessorGroup, type ProcessorGroup } from '../../processors/group.js';
import { notifyIntents } from '../../processors/notify-intents.js';
import { notifyInApp, notifyEmail, notifyPush } from '../../processors/notify-channels.js';
import { receipts } from '../../processors/receipts.js';
import { persist } from '../../processors/persist.js';
import type { ProcessorDefinition } from '../../processors/definition.js';
import { startLocalSmtpSink, type StoredMail } from '../../ops/local-smtp-sink.js';
import { startLocalPushSink, type StoredPush } from '../../ops/local-push-sink.js';
import { readJsonl, sinkFiles, writeSinkControl, type LocalSink, type SinkAttempt, type SinkControl, type SinkName } from '../../ops/notify-sinks.js';
import { sign } from '../../workers/notify/callbacks.js';
import { useStack, type Stack } from './stack.js';

export const NOTIFY_DEFINITIONS = { intents: notifyIntents, inApp: notifyInApp, email: notifyEmail, push: notifyPush, receipts, persist } as const;
export type NotifyGroup = keyof typeof NOTIFY_DEFINITIONS;

/** Quick settings: retries in tens of ms, short digest windows, a breaker that opens and closes within a test. */
export function notifyTestConfig(base: Config, over: Partial<Config['notify']> = {}): Config {
  const n = base.notify;
  const suffix = crypto.randomBytes(3).toString('hex');
  return {
    ...base,
    processors: { ...base.processors, blockMs: 200, claimIntervalMs: 200 },
    notify: {
      ...n,
      retry: { baseMs: 100, factor: 2, capMs: 2000, maxAttempts: 4 },
      digestWindowMs: 1500,
      tickMs: 25,
      breaker: { threshold: 1000, openMs: 1000, alertAfterMs: 500 },
      ...over,
      // Breakers are shared per provider name: each test run gets its own, so one test's failures never slow another.
      email: { ...n.email, provider: `smtp-test-${suffix}`, ...(over.email ?? {}) },
      push: { ...n.push, provider: `push-test-${suffix}`, ...(over.push ?? {}) },
    },
  };
}

export async function startNotifyGroups(
  config: Config, sql: Sql, log: Logger, accept: (tenantId: string) => boolean,
  names: readonly NotifyGroup[] = ['intents', 'inApp', 'email', 'push', 'receipts'],
): Promise<ProcessorGroup[]> {
  return Promise.all(names.map((n) => startProcessorGroup({ definition: NOTIFY_DEFINITIONS[n] as ProcessorDefinition, config, sql, log, consumers: 1, accept })));
}

/** Starts the sinks unless they run for this data dir; `stop` stops only what this call started. */
export async function ensureSinks(config: Config, log: Logger): Promise<{ stop(): Promise<void> }> {
  const started: LocalSink[] = [];
  for (const s of [await startLocalSmtpSink(config, log), await startLocalPushSink(config, log)]) if (!s.reused) started.push(s);
  return { stop: async () => { await Promise.all(started.map((s) => s.stop())); } };
}

export function setSink(config: Config, name: SinkName, control: SinkControl): void {
  writeSinkControl(config, name, control);
}

export function mailsOf(config: Config, tenantId: string): StoredMail[] {
  return readJsonl<StoredMail>(sinkFiles(config, 'smtp-sink').stored).filter((m) => m.tenant === tenantId);
}

export function pushesOf(config: Config, tenantId: string): StoredPush[] {
  return readJsonl<StoredPush>(sinkFiles(config, 'push-sink').stored).filter((p) => p.tenant === tenantId);
}

export function attemptsOf(config: Config, name: SinkName, tenantId: string): SinkAttempt[] {
  return readJsonl<SinkAttempt>(sinkFiles(config, name).attempts).filter((a) => a.tenant === tenantId);
}

export interface DeliveryState {
  message_id: string;
  user_id: string;
  channel: string;
  status: string;
  reason: string;
  attempts: number;
  urgent: boolean;
}

export async function deliveriesOf(sql: Sql, tenantId: string, messageId: string, userId?: string): Promise<Map<string, DeliveryState>> {
  const rows = await withTenant(sql, tenantId, (tx) => tx<DeliveryState[]>`
    select message_id, user_id, channel, status, reason, attempts, urgent from notification_deliveries
    where tenant_id = ${tenantId} and message_id = ${messageId} and (${userId ?? null}::text is null or user_id = ${userId ?? null})`);
  return new Map(rows.map((r) => [userId ? r.channel : `${r.user_id}/${r.channel}`, r]));
}

export function signed(secret: string, body: unknown): { raw: string; signature: string } {
  const raw = JSON.stringify(body);
  return { raw, signature: `sha256=${sign(secret, raw)}` };
}

export async function breakerState(redis: RedisClient, provider: string): Promise<string> {
  return (await redis.hget(keys.notifyBreaker(provider), 'state')) ?? 'closed';
}

/** The notification files' stack: a gateway and a pool, the sinks (left as set), the notification groups of the tenants of `prefix`. */
export interface NotifyStack {
  stack: Stack;
  /** The running groups ([intents, inApp, email, push, receipts]); a test may stop and replace one, the stack stops what is here at the end. */
  groups: ProcessorGroup[];
}

/**
 * Registers the hooks of a notification test file: the stack of useStack plus the local SMTP and
 * push sinks (reset to their normal behaviour before and after the file) and the notification
 * groups, in this process, for the tenants whose id starts with `<prefix>_`.
 */
export function useNotifyStack(o: { prefix: string; config: Config; log: Logger; sql: { max: number; app: string } }): NotifyStack {
  const groups: ProcessorGroup[] = [];
  const resetSinks = () => {
    setSink(o.config, 'smtp-sink', {});
    setSink(o.config, 'push-sink', {});
  };
  const stack = useStack({
    prefix: o.prefix, config: o.config, sql: o.sql,
    async setup(s) {
      const sinks = await ensureSinks(o.config, o.log);
      s.defer(() => sinks.stop());
      resetSinks();
      s.defer(resetSinks);
      groups.push(...await startNotifyGroups(o.config, s.sql, o.log, (t) => t.startsWith(`${o.prefix}_`)));
      s.defer(async () => { await Promise.all(groups.splice(0).map((g) => g.stop())); });
    },
  });
  return { stack, groups };
}
