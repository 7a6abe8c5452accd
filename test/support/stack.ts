// The stack and tenant fixture of the integration test files: one call at the top of a file
// registers its `before`/`after` hooks (migrations, in-process gateways, a Redis client, the
// authenticator, optionally a Postgres pool) and returns the handle the tests use, so that files
// testing neighbouring parts of the contract (resume and ws, messages and threads, the notification
// files, the presence files) share one set-up instead of repeating it.
//
//   const stack = useStack({ prefix: 'ws', gateways: 2 });
//   test('…', async (t) => { const alice = await stack.tenant().user('alice'); await stack.open(t, alice); … });
//
// Teardown runs in the reverse order of set-up: the file's own `defer`red steps first (newest
// first), then the sockets opened through `open`, the gateways, the pool and Redis.
import { after, before, type TestContext } from 'node:test';
import type { Config } from '../../config/index.js';
import type { Authenticator } from '../../core/auth.js';
import { createSql, type Sql } from '../../core/db.js';
import type { RedisClient } from '../../core/redis.js';
import { Tenant, config as sharedConfig, createAuthenticator, migrateDb, startTestGateway, testRedis, type TestGateway, type User } from './api.js';
import { WsClient, closeAll, type ConnectOptions, type Frame } from './ws-client.js';

export interface StackOptions {
  /** Prefix of the ids of the tenants `tenant()` makes (each call is a fresh tenant). */
  prefix: string;
  /** The configuration of the gateways and helpers (default: the shared test configuration). */
  config?: Config;
  /**
   * How many gateways to start (default 1), or the overrides of each: a list (`[{}, { presence: … }]`)
   * or named (`{ main: {}, ttl: { presence: … } }`, then `stack.gateway('ttl')`). The first is `stack.gw`.
   */
  gateways?: number | Partial<Config>[] | Record<string, Partial<Config>>;
  /** A Postgres pool of the file, for tests that read the tables. */
  sql?: { max: number; app: string };
  /** Extra set-up once the stack is up (processor groups, sinks…); its teardown goes to `stack.defer`. */
  setup?: (stack: Stack) => Promise<void>;
}

export class Stack {
  readonly config: Config;
  readonly prefix: string;
  private state: { gateways: TestGateway[]; names: string[]; auth: Authenticator; redis: RedisClient; sql?: Sql } | undefined;
  private readonly teardowns: (() => Promise<void> | void)[] = [];
  private readonly clients: WsClient[] = [];

  constructor(private readonly options: StackOptions) {
    this.config = options.config ?? sharedConfig;
    this.prefix = options.prefix;
  }

  private get up(): NonNullable<Stack['state']> {
    if (!this.state) throw new Error('the test stack is not up: use it inside tests or hooks, after useStack()\'s before hook');
    return this.state;
  }

  /** The first gateway. */
  get gw(): TestGateway { return this.up.gateways[0]!; }
  /** A gateway by its name in `options.gateways`, or by its place (0-based). */
  gateway(which: number | string): TestGateway {
    const g = this.up.gateways[typeof which === 'number' ? which : this.up.names.indexOf(which)];
    if (!g) throw new Error(`the test stack has no gateway ${JSON.stringify(which)} (it has ${this.up.gateways.length})`);
    return g;
  }
  get auth(): Authenticator { return this.up.auth; }
  get redis(): RedisClient { return this.up.redis; }
  get sql(): Sql {
    if (!this.up.sql) throw new Error('this test stack has no Postgres pool: pass `sql` to useStack');
    return this.up.sql;
  }

  /** A fresh tenant whose users speak to `on` (default the first gateway). */
  tenant(prefix = this.prefix, on: TestGateway = this.gw): Tenant {
    return new Tenant(on.api, this.auth, prefix);
  }

  /**
   * Opens a socket for `u` (on `on`, default the first gateway) and waits for its hello. It is closed
   * when the test `t` ends, or with the stack when no test context is given.
   */
  async open(t: TestContext | undefined, u: User | string, o: ConnectOptions & { on?: TestGateway } = {}): Promise<{ client: WsClient; hello: Frame }> {
    const token = typeof u === 'string' ? u : u.token;
    const r = await WsClient.open((o.on ?? this.gw).wsUrl, { token, ...o });
    if (t) t.after(() => r.client.close());
    else this.clients.push(r.client);
    return r;
  }

  /** Keeps a socket opened elsewhere until the stack stops. */
  keep(client: WsClient): WsClient {
    this.clients.push(client);
    return client;
  }

  /** A teardown step of the file, run before the stack's own (newest first). */
  defer(fn: () => Promise<void> | void): void {
    this.teardowns.push(fn);
  }

  async start(): Promise<void> {
    await migrateDb(this.config);
    const g = this.options.gateways ?? 1;
    const named = typeof g === 'number' ? Array.from({ length: g }, (_, i) => [String(i), {}] as const)
      : Array.isArray(g) ? g.map((o, i) => [String(i), o] as const) : Object.entries(g);
    const names = named.map(([name]) => name);
    const overrides = named.map(([, o]) => o);
    const [auth, gateways] = await Promise.all([
      createAuthenticator(this.config),
      Promise.all(overrides.map((o) => startTestGateway(this.config, o))),
    ]);
    const redis = testRedis(this.config);
    const sql = this.options.sql ? createSql(this.config, { max: this.options.sql.max, app: this.options.sql.app }) : undefined;
    this.state = { gateways, names, auth, redis, sql };
    await this.options.setup?.(this);
  }

  async stop(): Promise<void> {
    const errors: unknown[] = [];
    const step = async (fn: () => Promise<void> | void) => {
      try { await fn(); } catch (err) { errors.push(err); }
    };
    for (const fn of this.teardowns.splice(0).reverse()) await step(fn);
    await step(() => closeAll(this.clients.splice(0)));
    const s = this.state;
    this.state = undefined;
    if (s) {
      await step(async () => { await Promise.all(s.gateways.map((g) => g.close())); });
      await step(async () => { await s.sql?.end({ timeout: 5 }); });
      s.redis.disconnect();
    }
    if (errors.length) throw new AggregateError(errors, 'test stack teardown failed');
  }
}

/** Registers the file's `before`/`after` hooks for a stack and returns it. Call once, at the top of a test file. */
export function useStack(options: StackOptions): Stack {
  const stack = new Stack(options);
  before(() => stack.start());
  after(() => stack.stop());
  return stack;
}
