// The one owner of Redis key names. No other file builds a key string.
// Every tenant key carries the tenant as a Redis Cluster hash tag ({tenant}) so that all keys of a
// tenant live in one slot and a Lua script may touch several of them atomically.
export const keys = {
  /** The tenant's event stream: every write lands here first; its entry ids are the public `seq`. */
  events: (t: string) => `chorus:{${t}}:events`,
  /** Dead letters of one consumer group of the tenant (entries that failed maxDeliveries times). */
  deadLetters: (t: string, group: string) => `chorus:{${t}}:dlq:${group}`,
  /** Thread metadata hash: title, createdAt, createdBy, seq. */
  thread: (t: string, threadId: string) => `chorus:{${t}}:thread:${threadId}`,
  /** Set of the thread's participant user ids: the write path's authority for membership. */
  threadMembers: (t: string, threadId: string) => `chorus:{${t}}:thread:${threadId}:members`,
  /** Set of the thread ids a user participates in: what a socket of that user receives. */
  userThreads: (t: string, userId: string) => `chorus:{${t}}:user:${userId}:threads`,
  /** Recent message metadata (threadId, senderId, createdAt, deleted) for edit/delete checks. */
  message: (t: string, messageId: string) => `chorus:{${t}}:msg:${messageId}`,
  /** clientMessageId idempotency record of one sender. */
  idempotency: (t: string, senderId: string, clientMessageId: string) =>
    `chorus:{${t}}:idem:${senderId}:${clientMessageId}`,
  /** Global registry of tenants that have a stream (processors and gateways discover tenants here). */
  tenants: () => 'chorus:tenants',
  /** Pub/sub channel announcing a tenant's first write, so consumers need not wait for their poll. */
  tenantsChannel: () => 'chorus:tenants:new',
  /** Pub/sub channel of a tenant's typing indicators (best-effort: never in the stream). */
  typingChannel: (t: string) => `chorus:{${t}}:typing`,
  /** Runtime feature flags (hash: flag -> '1'/'0'), e.g. `typing`; set with `npm run chorus -- flag`. */
  flags: () => 'chorus:flags',
  /** Set (NX, expiring after one interval) by the process that reconciles a tenant's counters this round. */
  reconcileMark: (t: string) => `chorus:{${t}}:reconcile`,
  /** Held (NX, expiring) while a rebuild of one read model of the tenant runs: one at a time. */
  rebuildLock: (t: string, model: string) => `chorus:{${t}}:rebuild:${model}`,
  /**
   * One user's presence (hash): s status, d declared status, v version, at changed-at, seen lastSeenAt,
   * pv/ps/pat the last published version/status/time, c:<connectionId> that connection's expiry (ms).
   */
  presenceUser: (t: string, userId: string) => `chorus:{${t}}:presence:user:${userId}`,
  /** Expiry index of one presence shard (zset userId -> when the user's last connection expires, ms). */
  presenceExpiry: (t: string, shard: number) => `chorus:{${t}}:presence:exp:${shard}`,
  /** The tenant's shards by their earliest expiry (zset shard -> ms): the sweepers' to-do list. */
  presenceDue: (t: string) => `chorus:{${t}}:presence:due`,
  /** Sweep lease of one shard (SET NX PX): one gateway sweeps a shard per round. */
  presenceSweepLease: (t: string, shard: number) => `chorus:{${t}}:presence:sweep:${shard}`,
  /** Published presence updates per shard in the current load window (hash shard -> count). */
  presenceLoad: (t: string) => `chorus:{${t}}:presence:load`,
  /** Lease of the process that evaluates the tenant's shard load this window (SET NX PX). */
  presenceLoadLease: (t: string) => `chorus:{${t}}:presence:load:lease`,
  /** Idempotency key `tenant:user:version` of one published presence update (SET NX, short TTL). */
  presencePublished: (t: string, userId: string, version: number) => `chorus:{${t}}:presence:pub:${userId}:${version}`,
  /**
   * Pub/sub channel of one presence shard: the seed's `presence:{tenantId}:{shardId}` with the chorus
   * prefix in front and the tenant as hash tag (`chorus:presence:{acme}:17`), so on a Cluster the
   * sharded channel lives in the tenant's slot like its keys.
   */
  presenceChannel: (t: string, shard: number) => `chorus:presence:{${t}}:${shard}`,
  /** Tenants by their last presence activity (zset tenant -> ms): the tenants sweepers visit. */
  presenceTenants: () => 'chorus:presence:tenants',
  /** An attachment's write-path facts (hash: uploader, status): what a message may reference. */
  attachment: (t: string, attachmentId: string) => `chorus:{${t}}:attachment:${attachmentId}`,
  /**
   * The attachment pipeline's own stream (attachment.uploaded → .scanned → .validated): read only by
   * the attachment stages, so the groups of the event stream never read, skip and ack these entries.
   * attachment.ready / .rejected, which clients see, go to the event stream.
   */
  attachmentWork: (t: string) => `chorus:{${t}}:attachments`,
  /** Threads where the attachment was posted (set): their participants may read it. */
  attachmentThreads: (t: string, attachmentId: string) => `chorus:{${t}}:attachment:${attachmentId}:threads`,
  /** Per-channel notification job queue (stream; channel inApp | email | push), read by group notify-<channel>. */
  notifyQueue: (t: string, channel: string) => `chorus:{${t}}:notify:${channel}`,
  /** Jobs of a channel waiting for their retry time (zset job JSON -> due ms), moved back onto the queue when due. */
  notifyDelayed: (t: string, channel: string) => `chorus:{${t}}:notify:${channel}:delayed`,
  /** Low-priority items of a channel waiting for their digest (hash userId -> comma-joined item JSON, n:<userId> -> count). */
  notifyDigest: (t: string, channel: string) => `chorus:{${t}}:notify:${channel}:digest`,
  /** When each user's open digest of a channel closes (zset userId -> ms). */
  notifyDigestDue: (t: string, channel: string) => `chorus:{${t}}:notify:${channel}:digest-due`,
  /** Set (NX, TTL) when a notification was put on a channel queue or digest: redelivered intents never enqueue twice. */
  notifyEnqueued: (t: string, notificationId: string, channel: string, kind: string) =>
    `chorus:{${t}}:notify:enq:${notificationId}:${channel}:${kind}`,
  /** Outcome marker of one delivery (`sent|<providerId>|<ms>` or `dead|…`): checked before every send, so nothing is sent twice. */
  notifyDone: (t: string, deliveryKey: string, channel: string) => `chorus:{${t}}:notify:done:${deliveryKey}:${channel}`,
  /** Lease (SET NX PX) of the consumer currently sending one delivery. */
  notifyLease: (t: string, deliveryKey: string, channel: string) => `chorus:{${t}}:notify:lease:${deliveryKey}:${channel}`,
  /**
   * Tenants with notification work coming due on a channel (zset tenant -> earliest due ms: retries
   * and digest windows): a hint, so the upkeep visits only those; a periodic full sweep backs it up.
   */
  notifyDue: (channel: string) => `chorus:notify:due:${channel}`,
  /** Circuit breaker of one notification provider, shared by every process (hash: state, fails, openUntil, probeUntil, since). */
  notifyBreaker: (provider: string) => `chorus:notify:breaker:${provider}`,
} as const;

/** Rate-limit buckets: `scope` names what is limited (e.g. msg:user, msg:tenant, ws:user). */
export const rateKeys = {
  bucket: (t: string, scope: string, id: string) => `chorus:{${t}}:rl:${scope}:${id}`,
  /** A bucket of a client address, for routes no tenant is known on yet (POST /dev/token). */
  client: (scope: string, address: string) => `chorus:rl:client:${scope}:${address}`,
} as const;
