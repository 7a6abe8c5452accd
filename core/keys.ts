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
} as const;

/** Rate-limit buckets: `scope` names what is limited (e.g. msg:user, msg:tenant, ws:user). */
export const rateKeys = {
  bucket: (t: string, scope: string, id: string) => `chorus:{${t}}:rl:${scope}:${id}`,
} as const;
