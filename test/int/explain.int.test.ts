// Query discipline (seed 3.4): the hot reads are prepared statements and use their intended
// indexes. A tenant gets a few thousand rows (then ANALYZE, so the planner sees real statistics);
// the inbox and timeline pages are run through their own functions, their statements are taken
// from pg_prepared_statements (which also proves they were prepared) and EXPLAINed with the same
// parameters; the counters' per-pair recomputation is EXPLAINed as the fragment the processor runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSql, withTenant, type Sql } from '../../core/db.js';
import { readInbox } from '../../projections/inbox.js';
import { readTimeline } from '../../projections/timeline.js';
import { COUNTERS_TABLES, expectedCounters, loadCounterFacts } from '../../processors/counters-store.js';
import { INBOX_TABLES, loadInboxFacts } from '../../processors/inbox.js';
import { emptyFacts, type MessageFact } from '../../processors/read-model-facts.js';
import { asJson } from '../../processors/read-model-sql.js';
import { config, migrateDb } from '../support/api.js';
import { uniqueTenant } from '../support/env.js';

let sql: Sql;
const T = uniqueTenant('explain');
const THREADS = 3000;
const USERS = 200;

before(async () => {
  await migrateDb(config);
  // One connection: the prepared statements of the page reads are then visible in this session.
  sql = createSql(config, { max: 1, app: 'test-explain' });
  await withTenant(sql, T, async (tx) => {
    await tx`
      insert into messages (tenant_id, id, thread_id, sender_id, body, created_at, seq, body_seq_key, deleted_at)
      select ${T}, 'm_' || i, 'th_' || (i % ${THREADS}), 'u' || (i % ${USERS}), 'body ' || i,
        now() - make_interval(secs => i), (1700000000000 + i) || '-0', lpad((1700000000000 + i)::text, 15, '0') || '-' || lpad('0', 19, '0'),
        case when i % 10 = 0 then now() end
      from generate_series(1, 20000) as i`;
    await tx`
      insert into counters_messages (tenant_id, message_id, thread_id, seq_key, sender_id, created_at, preview, deleted)
      select ${T}, 'm_' || i, 'th_' || (i % ${THREADS}), lpad((1700000000000 + i)::text, 15, '0') || '-' || lpad('0', 19, '0'),
        'u' || (i % ${USERS}), now() - make_interval(secs => i), 'body ' || i, i % 10 = 0
      from generate_series(1, 20000) as i`;
    await tx`
      insert into inbox_messages (tenant_id, message_id, thread_id, seq_key, sender_id, created_at, preview, deleted)
      select ${T}, 'm_' || i, 'th_' || (i % ${THREADS}), lpad((1700000000000 + i)::text, 15, '0') || '-' || lpad('0', 19, '0'),
        'u' || (i % ${USERS}), now() - make_interval(secs => i), 'body ' || i, i % 10 = 0
      from generate_series(1, 20000) as i`;
    await tx`
      insert into counters_members (tenant_id, thread_id, user_id, active, seq_key)
      select ${T}, 'th_' || t, 'u' || u, true, '0'
      from generate_series(0, ${THREADS - 1}) as t, generate_series(0, ${USERS - 1}) as u where (t + u) % 10 = 0`;
    await tx`
      insert into thread_user_counters (tenant_id, thread_id, user_id, unread_count, activity_key)
      select ${T}, 'th_' || t, 'u' || u, (t * u) % 7, lpad((1700000000000 + t * 13 % 20000)::text, 15, '0') || '-' || lpad('0', 19, '0')
      from generate_series(0, ${THREADS - 1}) as t, generate_series(0, ${USERS - 1}) as u where (t + u) % 10 = 0`;
    await tx`
      insert into thread_inbox_projection (tenant_id, thread_id, title, last_message_id, last_preview_text)
      select ${T}, 'th_' || t, 'thread ' || t, 'm_' || t, 'body' from generate_series(0, ${THREADS - 1}) as t`;
  });
  for (const table of ['messages', 'counters_messages', 'inbox_messages', 'counters_members', 'thread_user_counters', 'thread_inbox_projection']) {
    await sql`analyze ${sql(table)}`;
  }
});
after(async () => {
  await sql?.end({ timeout: 5 });
});

type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; Plans?: PlanNode[] };

function nodes(p: PlanNode): PlanNode[] {
  return [p, ...(p.Plans ?? []).flatMap(nodes)];
}

function indexesOf(plan: PlanNode): string[] {
  return nodes(plan).map((n) => n['Index Name']).filter((x): x is string => Boolean(x));
}

function seqScansOf(plan: PlanNode): string[] {
  return nodes(plan).filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'] ?? '?');
}

/** The parameter values of a statement, by what each placeholder is compared with. */
function paramsFor(statement: string, values: Record<string, string>): string[] {
  const n = (statement.match(/\$\d+/g) ?? []).reduce((m, p) => Math.max(m, Number(p.slice(1))), 0);
  return Array.from({ length: n }, (_, i) => {
    const at = statement.indexOf(`$${i + 1}`);
    const before = statement.slice(Math.max(0, at - 40), at);
    const m = /(\w+) = any\($|(\w+) = $|limit $|\(\s*$|, $/.exec(before);
    if (!m) throw new Error(`cannot tell what $${i + 1} is in ${statement}`);
    if (m[0].startsWith('limit')) return '51';
    if (m[0].includes('any(')) return values[`${m[1]}s`] ?? (() => { throw new Error(`no value for ${m[1]}s`); })();
    if (m[2]) return values[m[2]] ?? (() => { throw new Error(`no value for ${m[2]}`); })();
    return m[0].startsWith('(') ? values['cursor_key']! : values['cursor_id']!;
  });
}

/** Runs `read`, then EXPLAINs the prepared statement it used (the one whose text matches). */
async function explainPrepared(read: () => Promise<unknown>, match: RegExp, values: Record<string, string>): Promise<PlanNode> {
  await read();
  const prepared = await sql<{ name: string; statement: string }[]>`select name, statement from pg_prepared_statements`;
  const hits = prepared.filter((p) => match.test(p.statement));
  assert.equal(hits.length, 1, `one prepared statement matching ${match}: ${JSON.stringify(prepared.map((p) => p.statement))}`);
  const { name, statement } = hits[0]!;
  const args = paramsFor(statement, values).map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
  const [row] = await withTenant(sql, T, (tx) => tx.unsafe<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(`explain (format json) execute "${name}"(${args})`));
  return row!['QUERY PLAN'][0].Plan;
}

test('GET /api/inbox, first page: the user\'s counters index in order, projection by primary key', async () => {
  const plan = await explainPrepared(() => readInbox(sql, T, 'u3'), /from thread_user_counters c[\s\S]*where c\.tenant_id = \$1 and c\.user_id = \$2\s+order by/,
    { tenant_id: T, user_id: 'u3' });
  assert.ok(indexesOf(plan).includes('thread_user_counters_inbox'), JSON.stringify(plan));
  assert.ok(indexesOf(plan).includes('thread_inbox_projection_pkey'), JSON.stringify(plan));
  assert.deepEqual(seqScansOf(plan), []);
  assert.ok(!nodes(plan).some((n) => n['Node Type'] === 'Sort'), 'the index gives the order: no sort');
});

test('GET /api/inbox, next page (keyset cursor): the same index range, no sort', async () => {
  const first = await readInbox(sql, T, 'u3', { limit: 5 });
  assert.ok(first.nextCursor);
  const cursor = JSON.parse(Buffer.from(first.nextCursor, 'base64url').toString()) as { k: string; i: string };
  const plan = await explainPrepared(() => readInbox(sql, T, 'u3', { cursor: first.nextCursor }), /\(c\.activity_key, c\.thread_id\) </,
    { tenant_id: T, user_id: 'u3', cursor_key: cursor.k, cursor_id: cursor.i });
  assert.ok(indexesOf(plan).includes('thread_user_counters_inbox'), JSON.stringify(plan));
  assert.deepEqual(seqScansOf(plan), []);
  assert.ok(!nodes(plan).some((n) => n['Node Type'] === 'Sort'));
});

test('GET /api/threads/:id/messages (projections/timeline.ts): the live timeline index', async () => {
  const plan = await explainPrepared(() => readTimeline(sql, T, 'th_7'), /from messages\s+where tenant_id = \$1 and thread_id = \$2 and deleted_at is null\s+order by/,
    { tenant_id: T, thread_id: 'th_7' });
  assert.ok(indexesOf(plan).includes('messages_timeline_live'), JSON.stringify(plan));
  assert.deepEqual(seqScansOf(plan), []);
});

test('the counters\' per-pair recomputation counts and finds the last message on counters_messages_live', async () => {
  const plan = await withTenant(sql, T, async (tx) => {
    const pairs = asJson(tx, [{ thread_id: 'th_10', user_id: 'u0' }, { thread_id: 'th_21', user_id: 'u9' }]);
    const [row] = await tx<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>`explain (format json) ${expectedCounters(tx, COUNTERS_TABLES, T, pairs)}`;
    return row!['QUERY PLAN'][0].Plan;
  });
  const used = indexesOf(plan);
  assert.ok(used.filter((i) => i === 'counters_messages_live').length >= 2, JSON.stringify(plan));
  assert.ok(used.includes('counters_members_pkey'), JSON.stringify(plan));
  assert.deepEqual(seqScansOf(plan), []);
});

/** A batch that names two messages (the loads read only the keys). */
function batchOf(ids: string[]) {
  const b = emptyFacts();
  for (const id of ids) b.messages.set(id, {} as MessageFact);
  return b;
}

/** Index scans of `plan` whose condition names `column`: a probe by key, not a range of the tenant's rows. */
function probes(plan: PlanNode, index: string, column: string): boolean {
  return nodes(plan).some((n) => n['Index Name'] === index && String((n as { 'Index Cond'?: string })['Index Cond'] ?? '').includes(column));
}

for (const [name, table, load] of [
  ['counters', 'counters_messages', (ids: string[]) => withTenant(sql, T, (tx) => loadCounterFacts(tx, COUNTERS_TABLES, T, batchOf(ids)))],
  ['inbox', 'inbox_messages', (ids: string[]) => withTenant(sql, T, (tx) => loadInboxFacts(tx, INBOX_TABLES, T, batchOf(ids)))],
] as const) {
  test(`the ${name} processor loads a batch's stored message facts by primary key, not by scanning the tenant's ${table}`, async () => {
    const plan = await explainPrepared(() => load(['m_5', 'm_6']), new RegExp(`from "?${table}"?\\s+where tenant_id = \\$1 and message_id = any`),
      { tenant_id: T, message_ids: '{m_5,m_6}' });
    assert.ok(probes(plan, `${table}_pkey`, 'message_id'), JSON.stringify(plan));
    assert.deepEqual(seqScansOf(plan), []);
  });
}
