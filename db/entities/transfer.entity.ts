import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '../bigint-transformer';
import type { StepStates, TransferStatus } from '../../domain/transfer-status';

@Entity({ name: 'transfers' })
export class TransferEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column({ type: 'bigint', transformer: bigintTransformer, insert: false, update: false }) seq!: bigint;
  @Column('text', { name: 'caller_id' }) callerId!: string;
  @Column('text', { name: 'idempotency_key' }) idempotencyKey!: string;
  @Column('text', { name: 'request_hash' }) requestHash!: string;
  @Column('uuid', { name: 'from_wallet_id' }) fromWalletId!: string;
  @Column('uuid', { name: 'to_wallet_id' }) toWalletId!: string;
  @Column('bigint', { transformer: bigintTransformer }) amount!: bigint;
  @Column('char', { length: 3 }) currency!: string;
  @Column('text', { nullable: true }) description!: string | null;
  @Column('text') status!: TransferStatus;
  @Column('jsonb') steps!: StepStates;
  @Column('text', { name: 'failed_step', nullable: true }) failedStep!: string | null;
  @Column('text', { name: 'failure_code', nullable: true }) failureCode!: string | null;
  @Column('text', { name: 'failure_reason', nullable: true }) failureReason!: string | null;
  @Column('text', { name: 'workflow_id' }) workflowId!: string;
  @Column('text', { name: 'run_id', nullable: true }) runId!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
}
