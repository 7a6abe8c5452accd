// Meta-test (issue "Foundation", item 6): every table that holds tenant data — every table with a
// tenant_id column — has row-level security enabled AND forced, with a policy on chorus.tenant_id,
// and the application role can neither bypass it nor see another tenant's rows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb } from '../support/api.js';
import { createSql, withTenant, type Sql } from '../../core/db.js';

let sql: Sql;

before(async () => {
  await migrateDb(config);
  sql = createSql(config, { max: 2, app: 'chorus-test-rls' });
});

after(async () => {
  await sql?.end({ timeout: 5 });
});

test('every table with a tenant_id column has forced row-level security and a tenant policy', async () => {
  const rows = await sql<{ table: string; rls: boolean; forced: boolean; policies: number; qual: string | null }[]>`
    select c.relname as table, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
           (select count(*)::int from pg_policies p where p.schemaname = n.nspname and p.tablename = c.relname) as policies,
           (select string_agg(p.qual, ' ') from pg_policies p where p.schemaname = n.nspname and p.tablename = c.relname) as qual
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
    order by 1`;
  assert.ok(rows.length >= 10, `found the tenant tables: ${rows.map((r) => r.table).join(', ')}`);
  for (const r of rows) {
    assert.ok(r.rls, `${r.table}: row level security enabled`);
    assert.ok(r.forced, `${r.table}: row level security forced (applies to the owner too)`);
    assert.ok(r.policies >= 1, `${r.table}: has a policy`);
    assert.match(r.qual ?? '', /chorus\.tenant_id/, `${r.table}: its policy keys on chorus.tenant_id`);
  }
});

test('no table without tenant_id holds tenant data by another name', async () => {
  const rows = await sql<{ table: string }[]>`
    select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)`;
  assert.deepEqual(rows.map((r) => r.table), ['schema_migrations']);
});

test('the application role cannot bypass row-level security', async () => {
  const [me] = await sql<{ superuser: boolean; bypass: boolean }[]>`
    select rolsuper as superuser, rolbypassrls as bypass from pg_roles where rolname = current_user`;
  assert.deepEqual(me, { superuser: false, bypass: false });
});

test('a tenant transaction sees only its own rows; without a tenant nothing is visible', async () => {
  const a = `rlsa${Date.now()}`;
  const b = `rlsb${Date.now()}`;
  for (const t of [a, b]) {
    await withTenant(sql, t, (tx) => tx`
      insert into threads (tenant_id, id, title, created_by, created_at, seq_key) values (${t}, ${'th_' + t}, 'x', 'u', now(), '0')`);
  }
  const seenByA = await withTenant(sql, a, (tx) => tx<{ tenant_id: string }[]>`select tenant_id from threads where id in (${'th_' + a}, ${'th_' + b})`);
  assert.deepEqual(seenByA.map((r) => r.tenant_id), [a]);
  const none = await sql<{ n: number }[]>`select count(*)::int as n from threads`;
  assert.equal(none[0]!.n, 0, 'outside a tenant transaction the policies match nothing');
  await assert.rejects(
    withTenant(sql, a, (tx) => tx`insert into threads (tenant_id, id, title, created_by, created_at, seq_key) values (${b}, 'th_forged', 'x', 'u', now(), '0')`),
    /row-level security/,
    'writing another tenant\'s row is refused',
  );
});
