import { Type } from '@sinclair/typebox';
import { DISCREPANCY_KINDS } from '../../domain/reconciliation/results';
import { AT } from '../schemas/examples';
import {
  jsonResponse,
  NoQuery,
  Nullable,
  Page,
  pageQuery,
  problemResponses,
  Reason,
  Ref,
  StringEnum,
  Timestamp,
  Uuid,
  UuidRef,
} from '../schemas/common';

const RUN_ID = '0d9e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6';

export const DiscrepancyKindSchema = StringEnum(DISCREPANCY_KINDS, {
  $id: 'DiscrepancyKind',
  title: 'DiscrepancyKind',
  description: 'what disagrees (docs/runbooks.md#walletreconciliationdiscrepancies lists each kind and what to do)',
});

const Counts = (description: string) => Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description });

export const ReconciliationRunSchema = Type.Object(
  {
    id: UuidRef,
    workflowId: Type.String({ description: 'the run in the Temporal UI' }),
    trigger: StringEnum(['schedule', 'manual']),
    requestedBy: Nullable(Type.String({ description: 'who asked for a manual run' })),
    status: StringEnum(['running', 'succeeded', 'failed']),
    failure: Nullable(Type.String({ description: 'why a failed run stopped' })),
    checked: Counts(
      'rows checked, by check (wallets, journalEntries, transfers, openTransfers, transferWorkflows, decidedTransfers)',
    ),
    discrepancyCounts: Counts('discrepancies found, by kind'),
    discrepancies: Type.Integer({ minimum: 0, description: 'all discrepancies found' }),
    repaired: Type.Integer({ minimum: 0, description: 'discrepancies the run repaired' }),
    startedAt: Timestamp,
    finishedAt: Nullable(Timestamp),
  },
  { $id: 'ReconciliationRun', title: 'ReconciliationRun' },
);

export const ReconciliationRunPageSchema = Page(ReconciliationRunSchema, 'ReconciliationRunPage');

export const DiscrepancySchema = Type.Object(
  {
    kind: Ref(DiscrepancyKindSchema),
    subject: Type.String({ description: 'the id it is about: wallet, entry, transfer, workflow id, currency' }),
    ids: Type.Record(Type.String(), Type.String(), { description: 'every id involved, by name' }),
    detail: Type.String(),
    repaired: Type.Optional(Type.String({ description: 'what the run did about it' })),
  },
  { $id: 'Discrepancy', title: 'Discrepancy' },
);

/** A run with the discrepancies it found: the run (allOf, by reference) plus `found`. */
export const ReconciliationRunDetailSchema = Type.Intersect(
  [Ref(ReconciliationRunSchema), Type.Object({ found: Type.Array(Ref(DiscrepancySchema)) })],
  { $id: 'ReconciliationRunDetail', title: 'ReconciliationRunDetail' },
);

const RUN_EXAMPLE = {
  id: RUN_ID,
  workflowId: 'reconciliation-2026-11-30T23:35:00Z',
  trigger: 'schedule',
  requestedBy: null,
  status: 'succeeded',
  failure: null,
  checked: {
    wallets: 1200,
    journalEntries: 5400,
    transfers: 4100,
    openTransfers: 3,
    transferWorkflows: 4100,
    decidedTransfers: 12,
  },
  discrepancyCounts: {},
  discrepancies: 0,
  repaired: 0,
  startedAt: AT,
  finishedAt: AT,
};

const bearer = [{ bearerAuth: [] }];
const RunIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const reconciliationSchemas = {
  start: {
    summary: 'Start a reconciliation run now (finance, admin)',
    description:
      'Starts the same workflow the reconciliation Schedule runs every RECONCILIATION_INTERVAL_SECONDS and answers 202 with the ' +
      'run (status `running`); poll `GET /v1/reconciliation/runs/{id}`. Audited (`reconciliation.run`): the run and its audit row ' +
      'commit before the workflow starts, so a 202 is always audited; a 503 with the database down started nothing.',
    tags: ['reconciliation'],
    security: bearer,
    querystring: NoQuery,
    body: Type.Object(
      { reason: Reason('why; recorded in the audit trail') },
      { additionalProperties: false, examples: [{ reason: 'month-end close check' }] },
    ),
    response: {
      202: jsonResponse(Ref(ReconciliationRunSchema), 'The run was started', {
        example: { ...RUN_EXAMPLE, trigger: 'manual', requestedBy: 'bob@finance', status: 'running', finishedAt: null },
        headers: { location: { type: 'string', description: 'the run: /v1/reconciliation/runs/{id}' } },
      }),
      ...problemResponses(400, 401, 403, 413, 415, 429, 503),
    },
  },
  list: {
    summary: 'Reconciliation runs, newest first (ops, finance, admin)',
    tags: ['reconciliation'],
    security: bearer,
    querystring: pageQuery({}),
    response: {
      200: jsonResponse(Ref(ReconciliationRunPageSchema), 'One page of runs', {
        example: { items: [RUN_EXAMPLE], nextCursor: null },
      }),
      ...problemResponses(400, 401, 403, 429),
    },
  },
  get: {
    summary: 'One reconciliation run with its discrepancies (ops, finance, admin)',
    description: 'The counts are complete; `found` lists the first 1000 discrepancies, each with its kind and ids.',
    tags: ['reconciliation'],
    security: bearer,
    params: RunIdParams,
    querystring: NoQuery,
    response: {
      200: jsonResponse(Ref(ReconciliationRunDetailSchema), 'The run', {
        example: {
          ...RUN_EXAMPLE,
          discrepancyCounts: { transfer_without_workflow: 1 },
          discrepancies: 1,
          repaired: 1,
          found: [
            {
              kind: 'transfer_without_workflow',
              subject: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
              ids: {
                transferId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
                workflowId: 'transfer-7c9e6679-7425-40de-944b-e07fc1f90ae7',
              },
              detail: 'PENDING with no workflow',
              repaired: 'saga started under its workflow id',
            },
          ],
        },
      }),
      ...problemResponses(400, 401, 403, 404, 414, 429),
    },
  },
};
