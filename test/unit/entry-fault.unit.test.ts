// Which failures the runner dead-letters at once (the entry's own data) and which it retries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidEventError } from '../../core/events/index.js';
import { entryFault } from '../../processors/runner.js';

const pg = (code: string, message: string) => Object.assign(new Error(message), { name: 'PostgresError', code });

test('data exceptions (SQLSTATE class 22) and invalid events are the entry\'s fault, with a short reason', () => {
  assert.equal(entryFault(pg('22P02', 'invalid input syntax for type json')), 'postgres 22P02: invalid input syntax for type json');
  assert.match(entryFault(pg('22P05', 'unsupported Unicode escape sequence')) ?? '', /^postgres 22P05/);
  assert.match(entryFault(pg('22021', 'invalid byte sequence for encoding "UTF8": 0x00')) ?? '', /^postgres 22021/);
  assert.equal(entryFault(new InvalidEventError({ type: 'message.created', seq: '1-0' }, 'id must be a non-empty string')),
    'message.created 1-0: id must be a non-empty string');
  assert.ok((entryFault(pg('22001', 'x'.repeat(5000))) ?? '').length <= 300, 'the reason stays short');
});

test('outages, conflicts and bugs are not: they are retried', () => {
  for (const err of [
    pg('57P01', 'terminating connection due to administrator command'), pg('08006', 'connection failure'),
    pg('40001', 'could not serialize access'), pg('23505', 'duplicate key'), pg('53300', 'too many connections'),
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), new TypeError('x is undefined'), undefined, null,
  ]) assert.equal(entryFault(err), undefined, String(err));
});
