// The spec checked against the code (as Zulip does): every route a gateway registers is an
// operation of docs/openapi.yaml and every operation is a route, no operation that is served is
// still marked planned, and both documents compile as strict JSON Schema. Response bodies and
// frames are checked against them by every integration test, through test/support/spec.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { frameProblem, responseProblem, theSpec } from '../support/spec.js';
import type { RouteEntry } from '../../gateway/http/route-table.js';
import { useStack } from '../support/stack.js';

const stack = useStack({ prefix: 'spec' });

/** `GET /api/threads/{}/messages`: methods as HTTP spells them, parameters without their names. */
function fromCode(r: RouteEntry): string {
  const method = r.method === 'WS' ? 'GET' : r.method;
  return `${method} ${r.pattern.replace(/:[^/]+/g, '{}')}`;
}
function fromSpec(method: string, path: string): string {
  return `${method} ${path.replace(/\{[^}]+\}/g, '{}')}`;
}

/** The catch-all that answers unknown routes with 404 `not_found` (described in the spec's introduction). */
const isFallback = (r: RouteEntry) => r.method === 'ANY' && r.pattern === '/*';

describe('routes and docs/openapi.yaml', () => {
  test('every route the gateway registers is documented, and every documented operation is served', () => {
    const served = stack.gw.gateway.routes.filter((r) => !isFallback(r)).map(fromCode);
    assert.ok(served.length > 10, `the gateway recorded its routes: ${served.join(', ')}`);
    assert.equal(new Set(served).size, served.length, `a route is registered twice: ${served.join(', ')}`);
    const documented = theSpec().operations().map((o) => fromSpec(o.method, o.path));
    const undocumented = served.filter((r) => !documented.includes(r)).sort();
    const unserved = documented.filter((o) => !served.includes(o)).sort();
    assert.deepEqual(
      { undocumented, unserved }, { undocumented: [], unserved: [] },
      `served but not in docs/openapi.yaml: ${undocumented.join(', ') || 'none'}; ` +
      `in docs/openapi.yaml but not served: ${unserved.join(', ') || 'none'}`,
    );
  });

  test('no served operation is still marked planned', () => {
    const served = new Set(stack.gw.gateway.routes.map(fromCode));
    const stale = theSpec().operations()
      .filter((o) => served.has(fromSpec(o.method, o.path)) && o.operation['x-chorus-status'] !== 'implemented')
      .map((o) => `${o.method} ${o.path} (${String(o.operation['x-chorus-status'])})`);
    assert.deepEqual(stale, [], `served, but not marked x-chorus-status: implemented: ${stale.join(', ')}`);
  });

  test('the catch-all is the only route outside the spec', () => {
    assert.deepEqual(stack.gw.gateway.routes.filter(isFallback), [{ method: 'ANY', pattern: '/*' }]);
  });
});

describe('the documents themselves', () => {
  test('every response schema of docs/openapi.yaml compiles as strict JSON Schema 2020-12', () => {
    // Compiling happens on first use; an answer that matches nothing is fine, a schema that does not compile throws.
    for (const o of theSpec().operations()) {
      for (const status of Object.keys(o.operation['responses'] as object)) {
        const concrete = o.path.replace(/\{[^}]+\}/g, 'x');
        assert.doesNotThrow(() => responseProblem(o.method, concrete, Number(status), 'application/json', {}), `${o.method} ${o.path} ${status}`);
      }
    }
  });

  test('every JSON response example of docs/openapi.yaml matches its schema', () => {
    const s = theSpec();
    const shared = (s.openapi['components'] as { responses: Record<string, unknown> }).responses;
    let checked = 0;
    for (const o of s.operations()) {
      for (const [status, r] of Object.entries(o.operation['responses'] as Record<string, { $ref?: string }>)) {
        const response = (r.$ref ? shared[r.$ref.replace('#/components/responses/', '')] : r) as
          { content?: Record<string, { example?: unknown; examples?: Record<string, { value: unknown }> }> };
        const json = response.content?.['application/json'];
        const examples = [...(json && 'example' in json ? [json.example] : []), ...Object.values(json?.examples ?? {}).map((e) => e.value)];
        for (const ex of examples) {
          checked++;
          const problem = responseProblem(o.method, o.path.replace(/\{[^}]+\}/g, 'x'), Number(status), 'application/json', ex);
          assert.equal(problem, undefined, `the example of ${o.method} ${o.path} ${status}`);
        }
      }
    }
    assert.ok(checked > 20, `${checked} examples checked`);
  });

  test('every server message of docs/asyncapi.yaml compiles, and its examples match it', () => {
    const s = theSpec();
    assert.ok(s.serverMessages.size > 15, 'the send operations name the server messages');
    const messages = (s.asyncapi['components'] as { messages: Record<string, { examples?: { payload: unknown }[]; 'x-chorus-status'?: string }> }).messages;
    for (const [type, key] of s.serverMessages) {
      assert.doesNotThrow(() => frameProblem({ type }), type);
      for (const ex of messages[key]?.examples ?? []) assert.equal(frameProblem(ex.payload), undefined, `the example of ${type}`);
    }
  });

  test('no operation or message of docs/asyncapi.yaml is still marked planned', () => {
    const s = theSpec();
    const planned = [
      ...Object.entries(s.asyncapi['operations'] as Record<string, { 'x-chorus-status'?: string }>),
      ...Object.entries((s.asyncapi['components'] as { messages: Record<string, { 'x-chorus-status'?: string }> }).messages),
    ].filter(([, v]) => v['x-chorus-status'] === 'planned').map(([k]) => k);
    // Every frame type the gateway sends exists today; a future one would be added here with its test.
    assert.deepEqual(planned, []);
  });
});
