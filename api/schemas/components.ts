import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AuditEntryPageSchema, AuditEntrySchema } from '../routes/audit.schemas';
import { DepositSchema } from '../routes/deposits.schemas';
import { LivenessSchema, ReadinessSchema } from '../routes/health.schemas';
import { CallerSchema } from '../routes/me.schemas';
import {
  DiscrepancyKindSchema,
  DiscrepancySchema,
  ReconciliationRunDetailSchema,
  ReconciliationRunPageSchema,
  ReconciliationRunSchema,
} from '../routes/reconciliation.schemas';
import { StepStateSchema, TransferPageSchema, TransferSchema, TransferStatusSchema } from '../routes/transfers.schemas';
import { LedgerLinePageSchema, LedgerLineSchema, WalletPageSchema, WalletSchema } from '../routes/wallets.schemas';
import { ReasonSchema, UuidSchema } from './common';

/**
 * The resources the routes answer with, each once: the routes' responses refer to them by `$id` (Ref()
 * in api/schemas/common.ts), Fastify's response serializer resolves those references against these
 * shared schemas, and @fastify/swagger lists them under components.schemas by the same name. The
 * problem document (Problem) is added by api/plugins/errors.ts. A schema that another refers to is
 * listed before it.
 */
const COMPONENT_SCHEMAS: TSchema[] = [
  UuidSchema,
  ReasonSchema,
  WalletSchema,
  WalletPageSchema,
  LedgerLineSchema,
  LedgerLinePageSchema,
  DepositSchema,
  TransferStatusSchema,
  StepStateSchema,
  TransferSchema,
  TransferPageSchema,
  AuditEntrySchema,
  AuditEntryPageSchema,
  ReconciliationRunSchema,
  ReconciliationRunPageSchema,
  DiscrepancyKindSchema,
  DiscrepancySchema,
  ReconciliationRunDetailSchema,
  CallerSchema,
  LivenessSchema,
  ReadinessSchema,
];

export function addComponentSchemas(app: FastifyInstance): void {
  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema);
}
