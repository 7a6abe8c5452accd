// Stream positions (core/seq.ts): clients send them back verbatim, so they are validated before
// reaching Redis, and they are compared as numbers, never as strings ("10-0" comes after "9-0").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZERO_SEQ, compareSeq, isSeq, maxSeq, parseSeq, seqMillis, seqSortKey, type Seq } from '../../core/seq.js';

const s = (v: string) => v as Seq;

test('isSeq accepts Redis stream ids and nothing else', () => {
  for (const ok of ['0-0', '1-0', '1700000000000-0', '1700000000000-42', '999999999999999-9999999999999999999']) {
    assert.equal(isSeq(ok), true, ok);
  }
  for (const bad of ['', '1', '1-', '-1', '1-2-3', ' 1-0', '1-0 ', 'a-0', '1-a', '1.5-0', '1-0\n', '+', '-', '$', '>', '*',
    '1000000000000000-0', '1-10000000000000000000', '0x1-0', '(1-0', '1_0']) {
    assert.equal(isSeq(bad), false, JSON.stringify(bad));
  }
  for (const bad of [undefined, null, 1, {}, ['1-0'], true]) assert.equal(isSeq(bad), false, String(bad));
});

test('parseSeq returns the seq or null', () => {
  assert.equal(parseSeq('5-1'), '5-1');
  assert.equal(parseSeq('5'), null);
  assert.equal(parseSeq(5), null);
});

test('compareSeq orders by milliseconds, then by sequence number, numerically', () => {
  assert.ok(compareSeq(s('9-0'), s('10-0')) < 0, '9-0 < 10-0 (a string comparison would say otherwise)');
  assert.ok(compareSeq(s('1-9'), s('1-10')) < 0, '1-9 < 1-10');
  assert.ok(compareSeq(s('2-0'), s('1-999')) > 0);
  assert.equal(compareSeq(s('7-3'), s('7-3')), 0);
  assert.ok(compareSeq(ZERO_SEQ, s('0-1')) < 0);
  // Beyond 2^53: still exact.
  assert.ok(compareSeq(s('1-9007199254740993'), s('1-9007199254740992')) > 0);
  assert.ok(compareSeq(s('1-18446744073709551615'), s('1-18446744073709551614')) > 0);
});

test('compareSeq is antisymmetric and transitive over a sample', () => {
  const sample = ['0-0', '0-1', '1-0', '1-1', '1-10', '2-0', '10-0', '10-2', '100-0', '1700000000000-5'].map(s);
  for (const a of sample) for (const b of sample) assert.equal(Math.sign(compareSeq(a, b)) + Math.sign(compareSeq(b, a)), 0);
  const sorted = [...sample].reverse().sort(compareSeq);
  assert.deepEqual(sorted, sample);
});

test('maxSeq picks the later position', () => {
  assert.equal(maxSeq(s('9-0'), s('10-0')), '10-0');
  assert.equal(maxSeq(s('10-0'), s('9-0')), '10-0');
  assert.equal(maxSeq(s('3-3'), s('3-3')), '3-3');
});

test('seqMillis is the acceptance time in milliseconds', () => {
  assert.equal(seqMillis(s('1700000000123-7')), 1_700_000_000_123);
  assert.equal(seqMillis(ZERO_SEQ), 0);
});

test('seqSortKey sorts as strings exactly like compareSeq', () => {
  let x = 12345;
  const rand = (n: number) => { x = (x * 1103515245 + 12345) % 2 ** 31; return x % n; };
  const seqs: Seq[] = [];
  for (let i = 0; i < 300; i++) seqs.push(s(`${rand(3) === 0 ? rand(20) : 1_700_000_000_000 + rand(1000)}-${rand(3) === 0 ? rand(100_000) : rand(12)}`));
  seqs.push(s('999999999999999-9999999999999999999'), ZERO_SEQ);
  const byCompare = [...seqs].sort(compareSeq);
  const byKey = [...seqs].sort((a, b) => (seqSortKey(a) < seqSortKey(b) ? -1 : seqSortKey(a) > seqSortKey(b) ? 1 : 0));
  assert.deepEqual(byKey, byCompare);
  assert.equal(seqSortKey(s('12-3')), '000000000000012-0000000000000000003');
  assert.equal(seqSortKey(s('12-3')).length, seqSortKey(s('999999999999999-9999999999999999999')).length);
});

test('compareSeq (no BigInt on the hot path) orders like a BigInt comparison of both parts, leading zeros included', () => {
  const ref = (a: string, b: string) => {
    const [am, an] = a.split('-').map(BigInt) as [bigint, bigint];
    const [bm, bn] = b.split('-').map(BigInt) as [bigint, bigint];
    return am === bm ? (an === bn ? 0 : an < bn ? -1 : 1) : am < bm ? -1 : 1;
  };
  const samples = ['0-0', '0-1', '1-0', '9-0', '10-0', '1-9', '1-10', '1-01', '1-001', '01-1', '1700000000000-0', '1700000000000-18',
    '1700000000001-2', '999999999999999-9999999999999999999', '999999999999999-9999999999999999998', '5-9223372036854775807',
    '5-9223372036854775808', '5-18446744073709551615', '5-018446744073709551615'];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 300; i++) samples.push(`${Math.floor(rnd() * 20)}-${Math.floor(rnd() * 1e6) * (rnd() < 0.2 ? 1e12 : 1)}`);
  for (const a of samples) {
    for (const b of samples) {
      if (!isSeq(a) || !isSeq(b)) continue;
      assert.equal(Math.sign(compareSeq(s(a), s(b))), ref(a, b), `${a} vs ${b}`);
    }
  }
});
