// Versioned SQL migrations from migrations/NNN_name.sql, applied once each, in order, under an
// advisory lock so that several processes starting together migrate exactly once.
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from './db.js';
import type { Logger } from './logger.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const LOCK_ID = 0x43484f52; // "CHOR"

export async function migrate(sql: Sql, log?: Logger): Promise<string[]> {
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_ID})`;
    await tx`create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ version: string }[]>`select version from schema_migrations`).map((r) => r.version));
    for (const f of files) {
      if (done.has(f)) continue;
      const text = await fs.readFile(MIGRATIONS_DIR + f, 'utf8');
      await tx.unsafe(text);
      await tx`insert into schema_migrations (version) values (${f})`;
      applied.push(f);
      log?.info({ migration: f }, 'migration applied');
    }
  });
  return applied;
}
