// Postgres access (porsager/postgres). Every tenant table has row-level security keyed on the
// transaction-local setting `chorus.tenant_id`; `withTenant` is the only way application code
// reaches tenant rows.
import postgres from 'postgres';
import type { Config } from '../config/index.js';

export type Sql = postgres.Sql<Record<string, never>>;
export type Tx = postgres.TransactionSql<Record<string, never>>;

export function createSql(config: Config, opts: { max?: number; app?: string } = {}): Sql {
  const common = {
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    prepare: true,
    onnotice: () => undefined,
    connection: { application_name: opts.app ?? 'chorus' },
    types: {},
  } as const;
  if (config.database.url) return postgres(config.database.url, common) as unknown as Sql;
  return postgres({
    ...common,
    path: `${config.database.socketDir}/.s.PGSQL.${config.database.port}`,
    user: config.database.user,
    database: config.database.database,
  }) as unknown as Sql;
}

/** Runs `fn` in a transaction scoped to one tenant: RLS policies see only that tenant's rows. */
export function withTenant<T>(sql: Sql, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  // set_config is sent without waiting for its reply, so fn's first statement goes out in the same
  // write (pipelined on the transaction's connection, executed in order): one round trip fewer per
  // request. Promise.all observes both, so neither failure goes unhandled.
  return sql.begin(async (tx) => {
    const [, result] = await Promise.all([tx`select set_config('chorus.tenant_id', ${tenantId}, true)`.execute(), fn(tx)]);
    return result;
  }) as Promise<T>;
}

/**
 * Sessions of this database waiting for a lock right now, for the lock-wait gauge. Without
 * pg_read_all_stats a role sees the wait state of its own sessions only: Chorus's, which is the point.
 */
export async function lockWaitingSessions(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`;
  return row?.n ?? 0;
}

/** Share of the Chorus database's block reads served from shared buffers (NaN before any read). */
export async function cacheHitRatio(sql: Sql): Promise<number> {
  const [row] = await sql<{ hit: string; read: string }[]>`
    select blks_hit::text as hit, blks_read::text as read from pg_stat_database where datname = current_database()`;
  const hit = Number(row?.hit ?? 0);
  const total = hit + Number(row?.read ?? 0);
  return total ? hit / total : NaN;
}
