import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AnswerStage, FinanceDecision, TransferView } from './transfer-types';

/**
 * The transfer workflow's messages, shared by the workflow, the API and anyone who talks to it
 * (the CLI, the Temporal UI). Updates, not signals: the caller gets an outcome or a refusal.
 */

/** The saga as the workflow sees it: status, each step, the failure, the parking deadline, decisions. */
export const transferStatusQuery = defineQuery<TransferView>('status');

/**
 * The API's early answer (update-with-start): returns once the stage is reached. Sent with a fixed
 * update id per stage, so concurrent duplicates of one request share one update.
 */
export const transferAnswerUpdate = defineUpdate<TransferView, [AnswerStage]>('answer');
export const answerUpdateId = (stage: AnswerStage): string => `answer-${stage}`;

/**
 * Finance: re-run the step that exhausted its budget, with a fresh budget. Refused unless the
 * transfer is parked and no other decision is being applied. Returns the transfer once the step runs again.
 */
export const retryUpdate = defineUpdate<TransferView, [FinanceDecision]>('retry');
/**
 * Finance: give up on a parked transfer; compensations run. Same validation as retry. Returns the
 * transfer once it is CANCELLED (or COMPLETED, if the ledger had posted after all).
 */
export const cancelUpdate = defineUpdate<TransferView, [FinanceDecision]>('cancel');

/** The stable failure types a refused update carries (ApplicationFailure.type). */
export const TRANSFER_NOT_PARKED = 'TRANSFER_NOT_PARKED';
export const INVALID_DECISION = 'INVALID_DECISION';
