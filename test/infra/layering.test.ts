import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The layer rules of eslint.config.mjs (docs/architecture.md §2.2), proved on snippets: each rule fires
 * on a violating import and stays quiet on an allowed one, and the real tree lints clean.
 *
 * ESLint's Node API runs in a child process: it loads eslint.config.mjs with a dynamic import(), which
 * jest's CommonJS module runtime cannot serve.
 */

const ROOT = path.resolve(__dirname, '../..');

interface Snippet {
  filePath: string;
  code: string;
  /** lint with type information (the type-aware rules); `filePath` must then be a file of the project */
  typed?: boolean;
}

interface LintOutcome {
  filePath: string;
  code: string;
  restricted: string[];
  /** no-restricted-syntax messages (SQL text in activities/) */
  syntax: string[];
  /** every rule that fired (a parse error as its message) */
  rules: string[];
}

/** The linter: reads one JSON array of snippets per line on stdin, answers one JSON line of outcomes each. */
const LINTER = `
import { createInterface } from 'node:readline';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
const typed = new ESLint({ cwd: process.cwd(), overrideConfigFile: 'eslint.config.mjs' });
// the import rules need no type information (and x.ts files are in no TypeScript project): faster without
const untyped = new ESLint({
  cwd: process.cwd(),
  overrideConfigFile: 'eslint.config.mjs',
  overrideConfig: { ...tseslint.configs.disableTypeChecked, files: ['**/*.ts'] },
});
for await (const line of createInterface({ input: process.stdin })) {
  const out = [];
  for (const s of JSON.parse(line)) {
    const [result] = await (s.typed ? typed : untyped).lintText(s.code, { filePath: s.filePath });
    const of = (rule) => result.messages.filter((m) => m.ruleId === rule).map((m) => m.message);
    out.push({
      ...s,
      restricted: of('no-restricted-imports'),
      syntax: of('no-restricted-syntax'),
      rules: result.messages.map((m) => m.ruleId ?? m.message),
    });
  }
  process.stdout.write(JSON.stringify(out) + '\\n');
}
`;

/**
 * One linter process for the whole file, asked in turn: loading ESLint and the typescript-eslint config
 * costs seconds of CPU, paid once instead of once per rule.
 */
class Linter {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<{ resolve: (o: LintOutcome[]) => void; reject: (e: Error) => void }> = [];
  private stderr = '';

  constructor() {
    this.child = spawn(process.execPath, ['--input-type=module', '-e', LINTER], { cwd: ROOT });
    createInterface({ input: this.child.stdout }).on('line', (line) =>
      this.waiting.shift()?.resolve(JSON.parse(line) as LintOutcome[]),
    );
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`the linter exited (${code}): ${this.stderr}`));
    });
  }

  lint(snippets: Snippet[]): Promise<LintOutcome[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(snippets)}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

let linter: Linter | undefined;
const lint = (snippets: Snippet[]) => (linter ??= new Linter()).lint(snippets);
afterAll(() => linter?.close());

async function expectRule(filePath: string, cases: { refused: string[]; allowed: string[] }): Promise<void> {
  const outcomes = await lint([...cases.refused, ...cases.allowed].map((code) => ({ filePath, code })));
  const fired = (code: string) => outcomes.find((o) => o.code === code)!.restricted.length > 0;
  expect(cases.refused.filter((code) => !fired(code))).toEqual([]);
  expect(cases.allowed.filter(fired)).toEqual([]);
}

describe('layer rules (eslint.config.mjs: no-restricted-imports)', () => {
  jest.setTimeout(120_000);

  it('(a) workflows/ imports only the workflow SDK, its own folder and the pure domain modules; the activities as types', async () => {
    await expectRule('workflows/x.ts', {
      refused: [
        `import { DataSource } from 'typeorm';`,
        `import type { DataSource } from 'typeorm';`,
        `import { randomUUID } from 'node:crypto';`,
        `import { Client } from '@temporalio/client';`,
        `import { Context } from '@temporalio/activity';`,
        `import { createStore } from '../db/store';`,
        `import type { Sql } from '../db/sql';`,
        `import { loadConfig } from '../config';`,
        // domain modules with database or Node code
        `import { getTransfer } from '../domain/transfers/records';`,
        `import { systemWalletId } from '../domain/ids';`,
        `import { storeDiscrepancies } from '../domain/reconciliation/discrepancy';`,
        // the activities' code, not their types
        `import { createActivities } from '../activities';`,
        `import * as activities from '../activities';`,
        `import { reserveActivity } from '../activities/reserve';`,
        `export { createActivities } from '../activities';`,
        `import { logger } from '../observability/logger';`,
      ],
      allowed: [
        `import { proxyActivities, defineQuery } from '@temporalio/workflow';`,
        `import { RetryState } from '@temporalio/common';`,
        `import { transferStatusQuery, type TransferView } from './contract';`,
        `import { transferSagaV2 } from './transfer-saga';`,
        `import { formatAmount } from '../domain/money';`,
        `import { TERMINAL_STATUSES } from '../domain/transfer-status';`,
        `import { HOLD_CAPTURED } from '../domain/transfers/refusals';`,
        `import type { FinanceDecision } from '../domain/transfers/transfer';`,
        `import type { PageResult } from '../domain/reconciliation/results';`,
        `import type * as activities from '../activities';`,
        `import type { Activities } from '../activities';`,
        `import { type Activities } from '../activities';`,
        `import type { PageInput } from '../activities/reconciliation';`,
      ],
    });
  });

  it('(b) api/ and observability/ never reach db/ beyond the Store as a type (the db plugin creates it)', async () => {
    await expectRule('api/routes/x.ts', {
      refused: [
        `import { createStore } from '../../db/store';`,
        `import type { Sql } from '../../db/sql';`,
        `import { createDataSource } from '../../db/data-source';`,
        `import { InitialSchema1700000000000 } from '../../db/migrations/1700000000000-InitialSchema';`,
        `import { In, Repository } from 'typeorm';`,
        `import type { DataSource } from 'typeorm';`,
        `import { Pool } from 'pg';`,
      ],
      allowed: [
        `import type { Store } from '../../db/store';`,
        `import { getWallet, type WalletRecord } from '../../domain/wallets';`,
        `import { claimIdempotencyRecord } from '../../domain/idempotency';`,
        `import { pgErrorCode } from '../../db/pg-errors';`,
      ],
    });
    await expectRule('observability/x.ts', {
      refused: [
        `import type { Sql } from '../db/sql';`,
        `import { createStore } from '../db/store';`,
        `import { DataSource } from 'typeorm';`,
      ],
      allowed: [
        `import type { Store } from '../db/store';`,
        `import { countNeedsAttention } from '../domain/transfers/records';`,
      ],
    });
    // the db plugin creates the Store: the one file of api/ that does
    await expectRule('api/plugins/db.ts', {
      refused: [],
      allowed: [`import { createStore, type Store } from '../../db/store';`],
    });
  });

  it('(c) activities/ never write SQL nor reach Postgres but through domain/ functions given the Store', async () => {
    await expectRule('activities/x.ts', {
      refused: [
        `import { Pool } from 'pg';`,
        `import type { PoolClient } from 'pg';`,
        `import { DataSource } from 'typeorm';`,
        `import type { Sql } from '../db/sql';`,
        `import { createStore } from '../db/store';`,
        `import { createDataSource } from '../db/data-source';`,
      ],
      allowed: [
        `import type { Store } from '../db/store';`,
        `import { changeTransferState } from '../domain/transfers/records';`,
        `import { heartbeat } from '@temporalio/activity';`,
      ],
    });
    const sqlText = await lint([
      {
        filePath: 'activities/x.ts',
        code: 'export const q = `SELECT workflow_id FROM transfers WHERE workflow_id = ANY($1)`;',
      },
      { filePath: 'activities/x.ts', code: `export const q = 'UPDATE transfers SET status = $2 WHERE id = $1';` },
      // a Temporal visibility query is not SQL
      {
        filePath: 'activities/x.ts',
        code: "export const q = `WorkflowType = 'transferWorkflow' AND TaskQueue = 'q'`;",
      },
    ]);
    expect(sqlText.map((o) => o.restricted.length > 0 || o.syntax.length > 0)).toEqual([true, true, false]);
  });

  it('(d) scripts/ go through domain/, but for the listed bootstrapping and outside-auditor scripts', async () => {
    const refused = [
      `import { Pool } from 'pg';`,
      `import { createDataSource } from '../db/data-source';`,
      `import type { Sql } from '../db/sql';`,
    ];
    await expectRule('scripts/x.ts', {
      refused,
      allowed: [`import { createStore } from '../db/store';`, `import { deposit } from '../domain/deposits';`],
    });
    await expectRule('scripts/migrate.ts', {
      refused: [],
      allowed: [`import { Client } from 'pg';`, `import { runMigrations } from '../db/migrate';`],
    });
    await expectRule('scripts/bench-postgres.ts', { refused: [], allowed: [`import { Pool } from 'pg';`] });
  });

  it('(e) domain/ runs its statements on the Store or Sql it is given, and opens no connection', async () => {
    await expectRule('domain/x.ts', {
      refused: [
        `import { Pool } from 'pg';`,
        `import { DataSource } from 'typeorm';`,
        `import { createStore } from '../db/store';`,
        `import { createDataSource } from '../db/data-source';`,
      ],
      allowed: [
        `import type { Store } from '../db/store';`,
        `import type { Sql } from '../db/sql';`,
        `import { pgErrorCode } from '../db/pg-errors';`,
      ],
    });
  });

  // (The real tree is linted by `npm test`'s lint step; linting it again here, type-aware, costs a minute of CPU.)
});

describe('type-aware rules (eslint.config.mjs: the promise bug classes)', () => {
  jest.setTimeout(120_000);

  const WRONG = `async function step(): Promise<void> {}
    export function forgotten(): void { step(); }
    export function misused(): void { [1].forEach(async () => { await step(); }); setTimeout(step, 1); }
    export function thrown(): never { throw { code: 'NOT_AN_ERROR' }; }
    export async function notThenable(): Promise<number> { return await 1; }
    export async function early(): Promise<void> { try { return step(); } finally { console.log('done'); } }
  `;
  const RIGHT = `async function step(): Promise<void> {}
    export async function awaited(): Promise<void> { await step(); void step(); }
    export async function sequential(): Promise<void> { for (const _ of [1]) await step(); }
    export function thrown(): never { throw new Error('an Error'); }
    export async function early(): Promise<void> { try { return await step(); } finally { console.log('done'); } }
  `;
  let fired: Record<'wrong' | 'right', string[]>;

  beforeAll(async () => {
    // as the text of a real file, so that it is part of the TypeScript project; both in one lint run
    const [wrong, right] = await lint([
      { filePath: 'activities/reserve.ts', code: WRONG, typed: true },
      { filePath: 'activities/reserve.ts', code: RIGHT, typed: true },
    ]);
    fired = { wrong: wrong!.rules, right: right!.rules };
  });

  it('refuse a forgotten await, an async callback where a sync one is expected, and a thrown non-Error', () => {
    expect(new Set(fired.wrong)).toEqual(
      new Set([
        '@typescript-eslint/no-floating-promises',
        '@typescript-eslint/no-misused-promises',
        '@typescript-eslint/only-throw-error',
        '@typescript-eslint/await-thenable',
        '@typescript-eslint/return-await',
      ]),
    );
  });

  it('stay quiet on the same code written correctly', () => {
    expect(fired.right).toEqual([]);
  });
});
