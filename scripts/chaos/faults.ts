import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { TransferView } from '../../workflows/contract';
import type { ChaosCluster, ProcessName } from './cluster';
import { ACCOUNTING_DATABASE } from './layout';
import type { Random } from './random';
import { OUTAGES, type FaultEvent, type FaultKind, type Outage } from './record';
import type { Bank } from './workload';

/**
 * The accounting book refuses every new booking (reversals still work, so compensations can run):
 * a trigger on the run's accounting database, dropped to heal. Nothing in the service knows about it.
 */
const ACCOUNTING_OUTAGE_ON = `
  CREATE OR REPLACE FUNCTION chaos_accounting_outage() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'the accounting book is unavailable (chaos)' USING ERRCODE = 'P0001';
  END $$;
  DROP TRIGGER IF EXISTS chaos_accounting_outage ON accounting_bookings;
  CREATE TRIGGER chaos_accounting_outage BEFORE INSERT ON accounting_bookings
    FOR EACH ROW WHEN (NEW.status = 'booked') EXECUTE FUNCTION chaos_accounting_outage();`;
const ACCOUNTING_OUTAGE_OFF = `DROP TRIGGER IF EXISTS chaos_accounting_outage ON accounting_bookings`;

/**
 * Saga statuses a Temporal cancel is aimed at in turn: before reserve, accounting, the ledger or the
 * debit, the credit (past the point of no return: the cancel must not undo it), notify; parked.
 */
const CANCEL_TARGETS = ['PENDING', 'RESERVED', 'ACCOUNTED', 'DEBITED', 'POSTED', 'NEEDS_ATTENTION'] as const;
const STEP_OF_STATUS: Record<(typeof CANCEL_TARGETS)[number], string> = {
  PENDING: 'reserve',
  RESERVED: 'accounting',
  ACCOUNTED: 'ledger or debit',
  DEBITED: 'credit',
  POSTED: 'notify',
  NEEDS_ATTENTION: 'parked',
};

/** The outage the first round never shortens (firstRoundScale). */
const UNSHORTENED: Outage = 'accounting-outage';

/** The pause between two outages, in seconds. */
const OUTAGE_PAUSE_SECONDS: [number, number] = [2, 4];

export interface FaultSettings {
  /** how long an accounting outage lasts: longer than a step's retry budget, so transfers park */
  accountingOutageSeconds: [number, number];
  /**
   * how long a wallet shard database stays stopped or frozen: longer than a step's attempts would
   * last, so sagas that need it must wait for it rather than park
   */
  shardOutageSeconds: [number, number];
  /**
   * the fault phase's length: the first round of outages (every kind once) is shortened to fit in it
   * when their full lengths would not, so that a short run injects every kind
   */
  phaseSeconds: number;
  /** at most this many workflows are cancelled through Temporal in a run */
  maxTemporalCancels: number;
  log: (msg: string) => void;
}

/**
 * Injects the faults, each one seeded and logged with its time: SIGKILL of a random worker every few
 * seconds; one outage at a time (Temporal, an immediate stop of one Postgres instance, a wallet shard
 * database stopped or frozen for longer, Redis, the API, the accounting book); wallets frozen and
 * unfrozen; finance deciding parked transfers (retry some, cancel some, leave some to their deadline);
 * workflows cancelled through Temporal (as from the UI) wherever they are.
 */
export class FaultInjector {
  readonly events: FaultEvent[] = [];
  private stopping = false;
  private accountingDown = false;
  private readonly decided = new Set<string>();
  private cancelTurn = 0;
  private readonly loops: Array<Promise<void>> = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly bank: Bank,
    private readonly temporal: Client,
    private readonly rng: Random,
    private readonly settings: FaultSettings,
  ) {}

  start(): void {
    this.loops.push(
      this.every(this.rng.fork(), [2500, 5000], (r) => this.killWorker(r)),
      this.outages(this.rng.fork()),
      this.every(this.rng.fork(), [3000, 6000], (r) => this.freezeSomeone(r)),
      this.every(this.rng.fork(), [1500, 1500], (r) => this.financeDecides(r)),
      this.every(this.rng.fork(), [700, 1500], (r) => this.cancelThroughTemporal(r)),
    );
  }

  /** Stops injecting, waits for the loops, then heals whatever is still broken. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    await this.healAll();
  }

  kindsInjected(): Set<FaultKind> {
    return new Set(this.events.map((e) => e.kind));
  }

  private begin(kind: FaultKind, detail: string, instant = false, database?: string): FaultEvent {
    const at = Date.now();
    const event: FaultEvent = { kind, startedAt: at, healedAt: instant ? at : null, detail };
    if (database !== undefined) event.database = database;
    this.events.push(event);
    this.settings.log(`fault ${kind}: ${detail}`);
    return event;
  }
  private healed(event: FaultEvent, note = ''): void {
    event.healedAt = Date.now();
    this.settings.log(
      `healed ${event.kind} after ${((event.healedAt - event.startedAt) / 1000).toFixed(1)}s${note ? ` (${note})` : ''}`,
    );
  }

  private async every(r: Random, [min, max]: [number, number], step: (r: Random) => Promise<void>): Promise<void> {
    while (!this.stopping) {
      await sleep(r.int(min, max));
      if (this.stopping) return;
      await step(r).catch((err: unknown) =>
        this.settings.log(`fault loop error: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  // ------------------------------------------------------------------ process faults
  private async killWorker(r: Random): Promise<void> {
    const name = r.pick(this.cluster.workerNames);
    // one that died on its own (reported by the checker) is restarted, as a supervisor would
    if (!this.cluster.isRunning(name)) return this.cluster.startProcess(name);
    const event = this.begin('worker-kill', `SIGKILL ${name}`);
    await this.cluster.kill(name);
    await sleep(r.int(500, 3000));
    await this.cluster.startProcess(name);
    this.healed(event, `${name} restarted`);
  }

  /** How long each outage lasts, in seconds (before the first round's shortening). */
  private durationOf(kind: Outage): [number, number] {
    switch (kind) {
      case 'accounting-outage':
        return this.settings.accountingOutageSeconds;
      case 'shard-stop':
      case 'shard-freeze':
        return this.settings.shardOutageSeconds;
      case 'postgres-stop':
        return [2, 5];
      case 'temporal-kill':
      case 'redis-kill':
      case 'api-kill':
        return [1, 4];
    }
  }

  /**
   * The factor (at most 1) that makes the first round (every outage once, the longest pauses between
   * them) fit in 90 % of the fault phase. The accounting outage keeps its length: it is what parks
   * transfers (longer than a step's budget), so finance has something to decide.
   */
  private firstRoundScale(): number {
    const kept = this.durationOf(UNSHORTENED)[1];
    const longest = OUTAGES.reduce(
      (sum, kind) => sum + (kind === UNSHORTENED ? 0 : this.durationOf(kind)[1]) + OUTAGE_PAUSE_SECONDS[1],
      0,
    );
    return Math.max(0.1, Math.min(1, (0.9 * this.settings.phaseSeconds - kept) / longest));
  }

  /** Every outage once in a seeded order, then seeded picks, until stopped; a pause between two. */
  private async outages(r: Random): Promise<void> {
    const plan: Outage[] = r.shuffle(OUTAGES);
    const scale = this.firstRoundScale();
    if (scale < 1) this.settings.log(`the first round of outages is shortened to ${Math.round(scale * 100)}% to fit`);
    const seconds = ([min, max]: [number, number], factor: number) =>
      r.int(Math.max(1, Math.round(min * factor)), Math.max(1, Math.round(max * factor)));
    while (!this.stopping) {
      const firstRound = plan.length > 0;
      await sleep(seconds(OUTAGE_PAUSE_SECONDS, firstRound ? scale : 1) * 1000);
      if (this.stopping) return;
      const kind = plan.shift() ?? r.pick(OUTAGES);
      const factor = firstRound && kind !== UNSHORTENED ? scale : 1;
      await this.outage(kind, r, seconds(this.durationOf(kind), factor)).catch((err: unknown) =>
        this.settings.log(`outage ${kind} failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  private async outage(kind: Outage, r: Random, seconds: number): Promise<void> {
    switch (kind) {
      case 'accounting-outage': {
        const event = this.begin(
          kind,
          `the accounting book refuses bookings for ${seconds}s`,
          false,
          ACCOUNTING_DATABASE,
        );
        await this.cluster.sql(ACCOUNTING_DATABASE, ACCOUNTING_OUTAGE_ON);
        this.accountingDown = true;
        await sleep(seconds * 1000);
        await this.healAccounting();
        return this.healed(event);
      }
      case 'postgres-stop':
      case 'shard-stop': {
        // a short crash of any instance (the accounting book's too), or a long one of a wallet shard's
        const pg = r.pick(kind === 'postgres-stop' ? this.cluster.postgres : this.cluster.shardInstances);
        const event = this.begin(
          kind,
          `pg_ctl stop -m immediate ${pg.name} (${pg.database}) for ${seconds}s`,
          false,
          pg.database,
        );
        await this.cluster.stopPostgres(pg.name);
        await sleep(seconds * 1000);
        await this.cluster.startPostgres(pg.name);
        return this.healed(event, `pg_ctl start ${pg.name}`);
      }
      case 'shard-freeze': {
        const pg = r.pick(this.cluster.shardInstances);
        const stopped = this.cluster.freezePostgres(pg.name);
        const event = this.begin(
          kind,
          `SIGSTOP ${pg.name} (${pg.database}): postmaster ${stopped[0]} and ${stopped.length - 1} processes under it, for ${seconds}s`,
          false,
          pg.database,
        );
        await sleep(seconds * 1000);
        this.cluster.thawPostgres(pg.name);
        return this.healed(event, `SIGCONT ${pg.name}`);
      }
      case 'temporal-kill':
      case 'redis-kill':
      case 'api-kill': {
        const name: ProcessName = kind === 'temporal-kill' ? 'temporal' : kind === 'redis-kill' ? 'redis' : 'api';
        const event = this.begin(kind, `SIGKILL ${name}`);
        await this.cluster.kill(name);
        await sleep(seconds * 1000);
        await this.cluster.startProcess(name);
        return this.healed(event, `${name} restarted`);
      }
    }
  }

  private async healAccounting(): Promise<void> {
    // the accounting instance may be down at this instant only if a heal races a stop; retry until it takes
    for (;;) {
      try {
        await this.cluster.sql(ACCOUNTING_DATABASE, ACCOUNTING_OUTAGE_OFF);
        this.accountingDown = false;
        return;
      } catch {
        await sleep(500);
      }
    }
  }

  // ------------------------------------------------------------------ business faults
  /** Freezes a random wallet (transfers to it and from it get refused or compensated) and later unfreezes it. */
  private async freezeSomeone(r: Random): Promise<void> {
    const wallet = r.pick(this.bank.wallets);
    if (this.bank.frozen.has(wallet.id)) return;
    const until = Date.now() + 20_000;
    const frozen = await this.bank.http.sendUntilDefinite('POST', `/v1/wallets/${wallet.id}/freeze`, {
      token: this.bank.admin,
      body: { reason: 'chaos: frozen mid-flight' },
      route: 'POST /v1/wallets/:id/freeze',
      deadline: until,
    });
    if (frozen?.status !== 200) return;
    this.bank.frozen.add(wallet.id);
    const event = this.begin('wallet-freeze', `froze wallet ${wallet.id}`);
    await sleep(r.int(2000, 6000));
    await this.unfreeze(wallet.id);
    this.healed(event, `unfroze ${wallet.id}`);
  }

  private async unfreeze(walletId: string): Promise<void> {
    for (;;) {
      const a = await this.bank.http.sendUntilDefinite('POST', `/v1/wallets/${walletId}/unfreeze`, {
        token: this.bank.admin,
        body: { reason: 'chaos: thawed' },
        route: 'POST /v1/wallets/:id/unfreeze',
        deadline: Date.now() + 30_000,
      });
      if (a?.status === 200) break;
    }
    this.bank.frozen.delete(walletId);
  }

  /**
   * Finance looks at the parked list and decides each transfer once: retry (only once the accounting
   * book is back: retrying into an outage just parks it again), cancel, or leave it to its deadline.
   */
  private async financeDecides(r: Random): Promise<void> {
    const list = await this.bank.http.send('GET', '/v1/transfers?status=NEEDS_ATTENTION&limit=100', {
      token: this.bank.finance,
      route: 'GET /v1/transfers',
    });
    const items = Array.isArray(list.body?.items) ? (list.body.items as Array<{ id: string }>) : [];
    for (const { id } of items) {
      if (this.decided.has(id) || this.stopping) continue;
      const x = r.next();
      const kind = x < 0.4 ? 'retry' : x < 0.7 ? 'cancel' : null;
      if (kind === 'retry' && this.accountingDown) continue; // decide later
      this.decided.add(id);
      if (!kind) continue; // left to reach its deadline
      const at = Date.now();
      const a = await this.bank.http.send('POST', `/v1/transfers/${id}/${kind}`, {
        token: this.bank.finance,
        body: { reason: `chaos: finance ${kind}` },
        idempotencyKey: `chaos-${kind}-${id}`, // one decision per transfer
        route: `POST /v1/transfers/:id/${kind}`,
      });
      this.bank.record.decisions.push({
        transferId: id,
        kind,
        at,
        status: a.status,
        code: typeof a.body?.code === 'string' ? a.body.code : null,
      });
      this.begin(
        'finance-decisions',
        `${kind} ${id} → ${a.status}${typeof a.body?.code === 'string' ? ` ${a.body.code}` : ''}`,
        true,
      );
    }
  }

  /**
   * Cancels a running transfer workflow through Temporal, as an operator would from the UI (found by
   * listing running workflows), noting the step the saga said it was in. Bounded to a few percent of
   * the transfers: most run in ~0.1 s, so the ones caught are those slowed by a fault or parked.
   */
  private async cancelThroughTemporal(r: Random): Promise<void> {
    if (this.bank.record.temporalCancels.length >= this.settings.maxTemporalCancels) return;
    // each step in turn (the next one that has a transfer in it), found the way ops would in the UI:
    // by the TransferStatus search attribute
    let running: string[] = [];
    let listedAs: (typeof CANCEL_TARGETS)[number] = 'PENDING';
    for (let k = 0; k < CANCEL_TARGETS.length && running.length === 0; k++) {
      listedAs = CANCEL_TARGETS[(this.cancelTurn + k) % CANCEL_TARGETS.length]!;
      running = await this.runningWorkflows(listedAs);
    }
    this.cancelTurn++;
    if (running.length === 0) return;
    const workflowId = r.pick(running);
    const transferId = workflowId.replace(/^transfer-/, '');
    const handle = this.temporal.workflow.getHandle(workflowId);
    let step: string | null = null;
    try {
      const view = await Promise.race([
        handle.query<TransferView>('status'),
        sleep(2000).then(() => {
          throw new Error('query timed out');
        }),
      ]);
      if (['COMPLETED', 'REJECTED', 'CANCELLED', 'RETURNED'].includes(view.status)) return; // finished meanwhile
      step =
        view.status === 'NEEDS_ATTENTION'
          ? 'parked'
          : (Object.entries(view.steps).find(([, s]) => s === 'running')?.[0] ?? view.status);
    } catch {
      // no answer in time: a workflow task is busy, typically a step's attempt still running; the
      // search attribute it was listed by says which step
      step = `${STEP_OF_STATUS[listedAs]} (no query answer)`;
    }
    const at = Date.now();
    const ok = await handle.cancel().then(
      () => true,
      () => false,
    );
    this.bank.record.temporalCancels.push({ transferId, at, step, ok });
    if (ok) this.begin('temporal-cancel', `cancel ${transferId} in ${step ?? 'an unknown step'}`, true);
  }

  private async runningWorkflows(status: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const wf of this.temporal.workflow.list({
      query: `WorkflowType = 'transferWorkflow' AND ExecutionStatus = 'Running' AND TransferStatus = '${status}'`,
      pageSize: 50,
    })) {
      ids.push(wf.workflowId);
      if (ids.length >= 50) break;
    }
    return ids;
  }

  // ------------------------------------------------------------------ healing
  private async healAll(): Promise<void> {
    for (const pg of this.cluster.postgres) {
      this.cluster.thawPostgres(pg.name);
      if (!(await this.cluster.postgresRunning(pg.name))) await this.cluster.startPostgres(pg.name);
    }
    await this.healAccounting();
    for (const name of ['redis', 'temporal', 'api', ...this.cluster.workerNames] as ProcessName[]) {
      await this.cluster.startProcess(name);
    }
    for (const id of [...this.bank.frozen]) await this.unfreeze(id);
    for (const e of this.events) if (e.healedAt === null) e.healedAt = Date.now();
  }
}
