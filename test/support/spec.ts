// docs/openapi.yaml and docs/asyncapi.yaml as validators, so that every answer the test clients
// receive is checked against the spec (as Zulip checks its API docs against its tests): the JSON
// body of every HTTP answer against the schema of its path, method and status (api.ts), every
// server frame against the message schema of its type (ws-client.ts). A mismatch fails the test
// with the request or frame and the schema errors; the code is what users rely on, so the usual
// fix is the spec (PROTOCOL.md wins over both).
//
// Both documents are registered whole under made-up absolute ids, so that their own references
// (`#/components/…`, and asyncapi's `./openapi.yaml#/components/…`) resolve as they are written.
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from './env.js';

const OPENAPI_ID = 'https://chorus.invalid/docs/openapi.yaml';
const ASYNCAPI_ID = 'https://chorus.invalid/docs/asyncapi.yaml';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Json = Record<string, any>;

export function loadDoc(name: 'openapi.yaml' | 'asyncapi.yaml'): Json {
  return parseYaml(fs.readFileSync(path.join(REPO_ROOT, 'docs', name), 'utf8')) as Json;
}

/** A JSON pointer to `parts` (RFC 6901 escaping). */
function pointer(...parts: string[]): string {
  return `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

// ajv-formats is CommonJS: under NodeNext its default import is the module, the function is its `default`.
const addFormats = addFormatsModule.default;

export interface Operation {
  method: string;
  /** The path template as written in the spec, e.g. `/api/threads/{threadId}`. */
  path: string;
  operation: Json;
}

class Spec {
  readonly openapi = loadDoc('openapi.yaml');
  readonly asyncapi = loadDoc('asyncapi.yaml');
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly paths: { re: RegExp; path: string; params: number }[];
  /** Server frame type → asyncapi message key (from the `send` operations). */
  readonly serverMessages = new Map<string, string>();

  constructor() {
    this.ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, allowUnionTypes: true });
    addFormats(this.ajv);
    // Uploads and downloads are bytes (`format: binary` on a string): nothing a JSON validator checks.
    this.ajv.addFormat('binary', true);
    // Annotations of OpenAPI and of this project, not validation keywords.
    this.ajv.addVocabulary(['example', 'x-chorus-provisional', 'x-chorus-status']);
    // The documents' own top-level fields: each document is compiled as the root its references point into.
    this.ajv.addVocabulary([...new Set([...Object.keys(this.openapi), ...Object.keys(this.asyncapi)])]);
    this.ajv.addSchema({ ...this.openapi, $id: OPENAPI_ID }, undefined, undefined, false);
    this.ajv.addSchema({ ...this.asyncapi, $id: ASYNCAPI_ID }, undefined, undefined, false);

    this.paths = Object.keys(this.openapi['paths'] as Json).map((p) => ({
      path: p,
      params: (p.match(/\{/g) ?? []).length,
      re: new RegExp(`^${p.split('/').map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`),
    })).sort((a, b) => a.params - b.params); // a literal segment wins over a parameter

    const channelMessages = (this.asyncapi['channels'] as Json)['ws']['messages'] as Json;
    for (const op of Object.values(this.asyncapi['operations'] as Json) as Json[]) {
      if (op['action'] !== 'send') continue;
      for (const ref of op['messages'] as { $ref: string }[]) {
        const key = this.asyncMessageKey(channelMessages, ref.$ref);
        const name = (this.asyncapi['components'] as Json)['messages'][key]['name'] as string;
        this.serverMessages.set(name, key);
      }
    }
  }

  private asyncMessageKey(channelMessages: Json, ref: string): string {
    const channelKey = /^#\/channels\/ws\/messages\/(.+)$/.exec(ref)?.[1];
    const target = channelKey ? (channelMessages[channelKey] as { $ref?: string } | undefined)?.$ref : undefined;
    const key = target ? /^#\/components\/messages\/(.+)$/.exec(target)?.[1] : undefined;
    if (!key) throw new Error(`docs/asyncapi.yaml: operation message ${ref} does not lead to a components message`);
    return key;
  }

  /** Every operation of docs/openapi.yaml. */
  operations(): Operation[] {
    const out: Operation[] = [];
    for (const [p, item] of Object.entries(this.openapi['paths'] as Json)) {
      for (const m of METHODS) if ((item as Json)[m]) out.push({ method: m.toUpperCase(), path: p, operation: (item as Json)[m] as Json });
    }
    return out;
  }

  /** The operation serving `method` on a concrete request path, if the spec has one. */
  operationFor(method: string, urlPath: string): Operation | undefined {
    const m = method.toLowerCase();
    for (const p of this.paths) {
      if (!p.re.test(urlPath)) continue;
      const op = (this.openapi['paths'] as Json)[p.path][m] as Json | undefined;
      if (op) return { method: method.toUpperCase(), path: p.path, operation: op };
    }
    return undefined;
  }

  validator(id: string, ref: string): ValidateFunction {
    const key = `${id}${ref}`;
    let v = this.validators.get(key);
    if (!v) {
      v = this.ajv.compile({ $ref: key });
      this.validators.set(key, v);
    }
    return v;
  }

  errorsOf(v: ValidateFunction): string {
    return this.ajv.errorsText(v.errors, { separator: '; ', dataVar: 'body' });
  }
}

let spec: Spec | undefined;
/** The two documents, parsed and compiled once per test process. */
export function theSpec(): Spec {
  spec ??= new Spec();
  return spec;
}

/**
 * What is wrong with an HTTP answer by docs/openapi.yaml, or undefined when nothing is: its status
 * must be documented for the operation, and a JSON body must match that status's JSON schema. A
 * path or method the spec does not have must be answered with the error body (the router's 404).
 */
export function responseProblem(method: string, urlPath: string, status: number, contentType: string | undefined, body: unknown): string | undefined {
  const s = theSpec();
  const isJson = /json/.test(contentType ?? '') && body !== undefined;
  const op = s.operationFor(method, urlPath);
  if (!op) {
    if (!isJson) return undefined;
    const v = s.validator(OPENAPI_ID, pointer('components', 'schemas', 'ErrorResponse'));
    return v(body) ? undefined : `no operation in docs/openapi.yaml, and the body is not the error body: ${s.errorsOf(v)}`;
  }
  const where = `${op.method} ${op.path}`;
  const responses = op.operation['responses'] as Json;
  const statusKey = String(status) in responses ? String(status) : 'default' in responses ? 'default' : undefined;
  if (!statusKey) return `${where}: status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`;
  let response = responses[statusKey] as Json;
  let base = pointer('paths', op.path, op.method.toLowerCase(), 'responses', statusKey);
  const ref = response['$ref'] as string | undefined;
  if (ref) {
    base = ref;
    response = (s.openapi['components'] as Json)['responses'][ref.replace('#/components/responses/', '')] as Json;
  }
  if (!isJson) return undefined;
  const content = response['content'] as Json | undefined;
  if (!content?.['application/json']) return `${where} ${status}: answered with a JSON body, but the spec documents none`;
  const v = s.validator(OPENAPI_ID, `${base}/content/application~1json/schema`);
  return v(body) ? undefined : `${where} ${status}: ${s.errorsOf(v)}`;
}

/** What is wrong with a server frame by docs/asyncapi.yaml, or undefined when nothing is. */
export function frameProblem(frame: unknown): string | undefined {
  const s = theSpec();
  const type = (frame as { type?: unknown } | null)?.type;
  const key = typeof type === 'string' ? s.serverMessages.get(type) : undefined;
  if (!key) return `frame type ${JSON.stringify(type)} is not a server message of docs/asyncapi.yaml`;
  const v = s.validator(ASYNCAPI_ID, pointer('components', 'messages', key, 'payload'));
  return v(frame) ? undefined : `${String(type)} (components/messages/${key}): ${s.errorsOf(v).replace(/\bbody\b/g, 'frame')}`;
}
