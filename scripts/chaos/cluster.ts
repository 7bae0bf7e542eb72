import { setTimeout as sleep } from 'node:timers/promises';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { DEV_SERVER_TUNING_ARGS, findTemporalCli, repoRoot, searchAttributeArgs } from '../temporal-cli';
import { ACCOUNTING_DATABASE, ShardLayout } from './layout';

const run = promisify(execFile);
const HOST = '127.0.0.1';

/** A port nobody listens on right now (the kernel's pick). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function until(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what} not ready after ${seconds}s`);
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}

/**
 * A Postgres server program: on PATH, else in Debian's versioned folder (/usr/lib/postgresql/<v>/bin,
 * which is not on PATH), the newest version first.
 */
function postgresProgram(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  const debian = '/usr/lib/postgresql';
  const versions = fs.existsSync(debian) ? fs.readdirSync(debian).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const candidate = path.join(debian, v, 'bin', name);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(
    `${name} not found (on PATH or in ${debian}/*/bin): install the PostgreSQL server (apt-get install postgresql)`,
  );
}

/** The names of the processes a chaos run owns and can kill one by one. */
export type ProcessName = 'temporal' | 'redis' | 'api' | `worker-${number}`;

interface Owned {
  name: ProcessName;
  child: ChildProcess | null;
  exited: Promise<void>;
  /** set before the harness signals it: any other exit is the process's own doing */
  expectedExit: boolean;
}

/** A process that exited without being killed or stopped by the harness. */
export interface UnexpectedExit {
  name: ProcessName;
  at: number;
  code: number | null;
  signal: string | null;
}

/**
 * One Postgres server of the run (its own initdb folder and port) and the one database of the
 * service it holds: `pg-0` holds `db-0` (DATABASE_URL), `pg-1` holds `db-1` (SHARD_DATABASE_URLS),
 * `pg-accounting` the accounting book (ACCOUNTING_DATABASE_URL). One server per database, so that a
 * fault takes exactly one of them away.
 */
export interface PostgresInstance {
  /** `pg-0`, `pg-1`, …, `pg-accounting` */
  readonly name: string;
  /** the service's name of the database on it (db/shards.ts): `db-0`, `db-1`, …, `accounting` */
  readonly database: string;
  readonly dataDir: string;
  readonly port: number;
  readonly url: string;
}

export interface ClusterSettings {
  workers: number;
  /** wallet shard databases, each on a Postgres instance of its own (besides the accounting book's) */
  shards: number;
  /** the saga and process settings the API and workers get (TRANSFER_STEP_MAX_ATTEMPTS, ...) */
  env: Record<string, string>;
  log: (msg: string) => void;
}

/**
 * Everything a chaos run talks to, started and owned by it so that it can kill, stop or freeze any
 * one of them by PID without touching the rest of the machine: a Postgres instance per wallet shard
 * database and one for the accounting book (`initdb` into the run's folder, each on its own port), a
 * `redis-server`, a Temporal dev server (state in a file, so it survives a SIGKILL), the API and the
 * workers, each on a free port. Logs go to files in the run's folder.
 */
export class ChaosCluster {
  readonly dir: string;
  readonly logDir: string;
  readonly jwtSecret: string;
  readonly layout: ShardLayout;
  private ports!: { redis: number; temporal: number; api: number; workers: number[] };
  private pg: PostgresInstance[] = [];
  /** instance name → the PIDs it had when frozen (postmaster first), until thawed */
  private readonly frozen = new Map<string, number[]>();
  private readonly procs = new Map<ProcessName, Owned>();
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly root = repoRoot();
  private readonly cli: string;
  /** Postgres refuses to run as root: then its commands run as the `postgres` user. */
  private readonly asPostgresUser = process.getuid?.() === 0;

  constructor(private readonly settings: ClusterSettings) {
    const cli = findTemporalCli();
    if (!cli) throw new Error('no Temporal CLI: run `bash scripts/ensure-deps.sh` (installs it into .tools/temporal)');
    this.cli = cli;
    this.layout = new ShardLayout(settings.shards);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wallet-chaos-'));
    this.logDir = path.join(this.dir, 'logs');
    fs.mkdirSync(this.logDir);
    this.jwtSecret = `chaos-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}-secret-of-this-run`;
  }

  get apiUrl(): string {
    return `http://${HOST}:${this.ports.api}`;
  }
  get temporalAddress(): string {
    return `${HOST}:${this.ports.temporal}`;
  }
  get workerNames(): ProcessName[] {
    return this.ports.workers.map((_, i) => `worker-${i + 1}` as ProcessName);
  }
  /** Every Postgres instance: the wallet shard databases' (pg-0 first), then the accounting book's. */
  get postgres(): readonly PostgresInstance[] {
    return this.pg;
  }
  /** The wallet shard databases' instances, by database index. */
  get shardInstances(): readonly PostgresInstance[] {
    return this.pg.filter((i) => i.database !== ACCOUNTING_DATABASE);
  }
  get accountingInstance(): PostgresInstance {
    return this.instance(ACCOUNTING_DATABASE);
  }
  /** Database 0's URL (DATABASE_URL). */
  get databaseUrl(): string {
    return this.pg[0]!.url;
  }
  /** Our own node processes, whose every log line must be JSON. */
  get nodeLogFiles(): Array<{ name: string; path: string }> {
    return ['api', ...this.workerNames].map((name) => ({ name, path: this.logPath(name) }));
  }

  logPath(name: string): string {
    return path.join(this.logDir, `${name}.log`);
  }

  /** An instance by its name (`pg-1`) or by the database it holds (`db-1`, `accounting`). */
  instance(nameOrDatabase: string): PostgresInstance {
    const found = this.pg.find((i) => i.name === nameOrDatabase || i.database === nameOrDatabase);
    if (!found) throw new Error(`no Postgres instance ${nameOrDatabase}`);
    return found;
  }

  async start(): Promise<void> {
    this.ports = {
      redis: await freePort(),
      temporal: await freePort(),
      api: await freePort(),
      workers: await Promise.all(Array.from({ length: this.settings.workers }, () => freePort())),
    };
    await this.startPostgresInstances();
    await this.startProcess('redis');
    await this.startProcess('temporal');
    await this.migrate();
    await this.startProcess('api');
    await Promise.all(this.workerNames.map((w) => this.startProcess(w)));
  }

  /** Creates and starts a Postgres instance per database: the stack's first step (on its own in the faults' test). */
  async startPostgresInstances(): Promise<void> {
    const databases = [...this.layout.databases, ACCOUNTING_DATABASE];
    const ports = await Promise.all(databases.map(() => freePort()));
    this.pg = databases.map((database, i) => {
      const accounting = database === ACCOUNTING_DATABASE;
      const suffix = accounting ? 'accounting' : String(i);
      const dbName = accounting ? 'wallet_accounting' : i === 0 ? 'wallet' : `wallet_${i}`;
      return {
        name: `pg-${suffix}`,
        database,
        dataDir: path.join(this.dir, `pg-${suffix}`),
        port: ports[i]!,
        url: `postgres://postgres@${HOST}:${ports[i]}/${dbName}`,
      };
    });
    if (this.asPostgresUser) await run('chown', ['-R', 'postgres', this.dir]);
    await Promise.all(this.pg.map((i) => this.initPostgres(i)));
    await Promise.all(this.pg.map((i) => this.startPostgres(i.name)));
  }

  // ------------------------------------------------------------------ Postgres
  private async pgCommand(command: string, args: string[]): Promise<void> {
    const program = postgresProgram(command);
    const [file, argv] = this.asPostgresUser
      ? ['runuser', ['-u', 'postgres', '--', program, ...args]]
      : [program, args];
    await run(file, argv, { timeout: 60_000 });
  }

  private async initPostgres(i: PostgresInstance): Promise<void> {
    await this.pgCommand('initdb', ['-D', i.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  }

  /**
   * `pg_ctl start` of one instance, waiting until it accepts connections. fsync is off: a killed
   * process loses nothing, only an OS crash would.
   */
  async startPostgres(name: string): Promise<void> {
    const i = this.instance(name);
    const options = [
      `-p ${i.port}`,
      `-k ${this.dir}`,
      `-c listen_addresses=${HOST}`,
      '-c fsync=off',
      '-c max_connections=200',
    ].join(' ');
    await this.pgCommand('pg_ctl', [
      '-D',
      i.dataDir,
      '-o',
      options,
      '-l',
      this.logPath(i.name),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** The fault: an immediate stop of one instance (no checkpoint, every connection dropped), as a crash would. */
  async stopPostgres(name: string): Promise<void> {
    const i = this.instance(name);
    if (this.frozen.has(i.name)) this.thawPostgres(i.name); // a stopped process would never act on pg_ctl's signal
    await this.pgCommand('pg_ctl', ['-D', i.dataDir, '-m', 'immediate', '-w', 'stop']);
  }

  async postgresRunning(name: string): Promise<boolean> {
    const i = this.instance(name);
    if (this.frozen.has(i.name)) return true; // running, only not answering
    return run(postgresProgram('pg_isready'), ['-q', '-t', '3', '-h', HOST, '-p', String(i.port)]).then(
      () => true,
      () => false,
    );
  }

  isFrozen(name: string): boolean {
    return this.frozen.has(this.instance(name).name);
  }

  /** The postmaster's PID, from the first line of its data folder's postmaster.pid. */
  postmasterPid(name: string): number {
    const text = fs.readFileSync(path.join(this.instance(name).dataDir, 'postmaster.pid'), 'utf8');
    const pid = Number(text.split('\n', 1)[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${name}: no PID in postmaster.pid`);
    return pid;
  }

  /**
   * The fault: SIGSTOP to one instance's postmaster and every process under it (backends, checkpointer,
   * walwriter, …). The kernel still completes TCP handshakes into the listen backlog, so clients connect
   * and then wait: the database hangs, as on a stalled disk or a VM paused by its host, instead of
   * refusing. The postmaster first, so it forks nothing new while its children are stopped; the tree is
   * walked again until a pass finds nothing left running.
   */
  freezePostgres(name: string): number[] {
    const i = this.instance(name);
    if (this.frozen.has(i.name)) return this.frozen.get(i.name)!;
    const postmaster = this.postmasterPid(i.name);
    process.kill(postmaster, 'SIGSTOP');
    const stopped = [postmaster];
    this.frozen.set(i.name, stopped);
    for (let pass = 0; pass < 5; pass++) {
      const fresh = descendantsOf(postmaster).filter((pid) => !stopped.includes(pid));
      if (fresh.length === 0) break;
      for (const pid of fresh) {
        try {
          process.kill(pid, 'SIGSTOP');
          stopped.push(pid);
        } catch {
          // exited meanwhile
        }
      }
    }
    return stopped;
  }

  /** SIGCONT to every process frozen by freezePostgres (and any found under the postmaster now). */
  thawPostgres(name: string): void {
    const i = this.instance(name);
    const stopped = this.frozen.get(i.name);
    if (!stopped) return;
    const [postmaster] = stopped;
    const all = new Set([...stopped, ...(postmaster === undefined ? [] : descendantsOf(postmaster))]);
    for (const pid of all) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    this.frozen.delete(i.name);
  }

  /** One short-lived connection to a database (by its name: `db-1`, `accounting`) for the harness's own statements. */
  async sql(database: string, text: string): Promise<void> {
    const client = new PgClient({
      connectionString: this.instance(database).url,
      application_name: 'wallet-chaos',
      connectionTimeoutMillis: 5000,
      query_timeout: 10_000,
    });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  }

  private async migrate(): Promise<void> {
    await run(process.execPath, [path.join(this.root, 'dist', 'scripts', 'migrate.js')], {
      env: this.processEnv(),
      cwd: this.root,
      timeout: 120_000,
    });
  }

  // ------------------------------------------------------------------ processes
  private processEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      HOST,
      DATABASE_URL: this.databaseUrl,
      ...(this.shardInstances.length > 1
        ? {
            SHARD_DATABASE_URLS: this.shardInstances
              .slice(1)
              .map((i) => i.url)
              .join(','),
          }
        : {}),
      SHARD_MAP: this.layout.shardMapText(),
      ACCOUNTING_DATABASE_URL: this.accountingInstance.url,
      REDIS_URL: `redis://${HOST}:${this.ports.redis}`,
      REDIS_KEY_PREFIX: 'chaos:',
      TEMPORAL_ADDRESS: this.temporalAddress,
      JWT_SECRET: this.jwtSecret,
      ...this.settings.env,
      ...extra,
    };
  }

  private spawnFor(name: ProcessName): ChildProcess {
    const out = fs.openSync(this.logPath(name), 'a');
    const spawnIt = (command: string, args: string[], env: NodeJS.ProcessEnv) =>
      spawn(command, args, { cwd: this.root, env, stdio: ['ignore', out, out], detached: true });
    try {
      if (name === 'redis') {
        return spawnIt(
          'redis-server',
          [
            '--port',
            String(this.ports.redis),
            '--bind',
            HOST,
            '--save',
            '',
            '--appendonly',
            'no',
            '--loglevel',
            'warning',
          ],
          process.env,
        );
      }
      if (name === 'temporal') {
        return spawnIt(
          this.cli,
          [
            'server',
            'start-dev',
            '--headless',
            '--log-level',
            'warn',
            '--db-filename',
            path.join(this.dir, 'temporal.db'),
            ...DEV_SERVER_TUNING_ARGS,
            '--ip',
            HOST,
            '--port',
            String(this.ports.temporal),
            ...searchAttributeArgs(),
          ],
          process.env,
        );
      }
      if (name === 'api') {
        return spawnIt(
          process.execPath,
          [path.join(this.root, 'dist', 'api', 'main.js')],
          this.processEnv({ PORT: String(this.ports.api) }),
        );
      }
      const n = Number(name.slice('worker-'.length));
      return spawnIt(
        process.execPath,
        [path.join(this.root, 'dist', 'worker', 'main.js')],
        this.processEnv({
          WORKER_ID: String(n),
          WORKER_METRICS_PORT: String(this.ports.workers[n - 1]),
          TEMPORAL_METRICS_PORT: '0',
        }),
      );
    } finally {
      fs.closeSync(out); // the child holds its own copy
    }
  }

  private readiness(name: ProcessName): () => Promise<boolean> {
    if (name === 'redis') {
      return () =>
        new Promise((resolve) => {
          const s = net.connect({ host: HOST, port: this.ports.redis });
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
    }
    if (name === 'temporal') {
      return async () => {
        const { stdout } = await run(this.cli, ['operator', 'cluster', 'health', '--address', this.temporalAddress], {
          timeout: 5000,
        });
        return /SERVING/i.test(stdout);
      };
    }
    if (name === 'api') return () => httpOk(`${this.apiUrl}/health/live`);
    const n = Number(name.slice('worker-'.length));
    return () => httpOk(`http://${HOST}:${this.ports.workers[n - 1]}/health/live`);
  }

  /** Starts (or restarts) one process and waits until it answers; a process that dies meanwhile is an error. */
  async startProcess(name: ProcessName, waitSeconds = 90): Promise<void> {
    const current = this.procs.get(name);
    if (current?.child && current.child.exitCode === null && current.child.signalCode === null) return;
    const child = this.spawnFor(name);
    const owned: Owned = { name, child, exited: Promise.resolve(), expectedExit: false };
    owned.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        if (!owned.expectedExit) this.unexpectedExits.push({ name, at: Date.now(), code, signal });
        resolve();
      }),
    );
    this.procs.set(name, owned);
    await until(name, waitSeconds, async () => {
      if (child.exitCode !== null)
        throw new Error(`${name} exited with code ${child.exitCode} (see ${this.logPath(name)})`);
      return this.readiness(name)();
    }).catch((err: unknown) => {
      if (child.exitCode !== null)
        throw new Error(`${name} exited with code ${child.exitCode}; its log: ${this.logPath(name)}`);
      throw err;
    });
  }

  /** The fault: SIGKILL to the process group, waiting until it is gone. */
  async kill(name: ProcessName): Promise<void> {
    const p = this.procs.get(name);
    if (!p?.child?.pid || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.expectedExit = true;
    try {
      process.kill(-p.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await p.exited;
  }

  isRunning(name: ProcessName): boolean {
    const p = this.procs.get(name);
    return !!p?.child && p.child.exitCode === null && p.child.signalCode === null;
  }

  /** Stops everything (SIGTERM, then SIGKILL after a grace) and removes the run's folder unless kept. */
  async stop({ keepDir }: { keepDir: boolean }): Promise<void> {
    const live = [...this.procs.values()].filter(
      (p) => p.child && p.child.exitCode === null && p.child.signalCode === null,
    );
    for (const p of this.procs.values()) p.expectedExit = true;
    for (const p of live) {
      try {
        process.kill(-p.child!.pid!, 'SIGTERM');
      } catch {
        // gone
      }
    }
    const all = Promise.all(live.map((p) => p.exited));
    if ((await Promise.race([all.then(() => true), sleep(10_000).then(() => false)])) === false) {
      for (const p of live) {
        try {
          process.kill(-p.child!.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await all;
    }
    for (const i of this.pg) {
      this.thawPostgres(i.name);
      if (await this.postgresRunning(i.name)) await this.stopPostgres(i.name).catch(() => undefined);
    }
    if (!keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Last resort on an unexpected exit of the harness (synchronous: it runs in an 'exit' handler):
   * nothing it started may outlive it. Postgres instances are thawed first, else they would never act
   * on pg_ctl's stop.
   */
  killAllNow(): void {
    for (const p of this.procs.values()) {
      p.expectedExit = true;
      if (p.child?.pid) {
        try {
          process.kill(-p.child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    for (const i of this.pg) {
      this.thawPostgres(i.name);
      if (!fs.existsSync(path.join(i.dataDir, 'postmaster.pid'))) continue;
      const program = postgresProgram('pg_ctl');
      const args = ['-D', i.dataDir, '-m', 'immediate', 'stop'];
      spawnSync(
        this.asPostgresUser ? 'runuser' : program,
        this.asPostgresUser ? ['-u', 'postgres', '--', program, ...args] : args,
        {
          stdio: 'ignore',
          timeout: 30_000,
        },
      );
    }
  }
}

/** Every process below `pid` (children, their children, …), from /proc: Linux only, as the harness is. */
export function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parentOf.set(Number(entry), ppid);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** The state letter of a process (`T` = stopped), or null if it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}
