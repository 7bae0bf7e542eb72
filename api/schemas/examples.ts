/** Example values for the OpenAPI document (request bodies and responses). Never used at run time. */

const WALLET_ID = '3f0a8d4e-6c1b-4f7e-9a2d-1b2c3d4e5f60';
const OTHER_WALLET_ID = '8b7c6d5e-4f3a-4b2c-9d1e-0f1a2b3c4d5e';
const TRANSFER_ID = 'c5a1e3f7-2b4d-5e6f-8a9b-0c1d2e3f4a5b';
export const AT = '2025-01-15T09:30:00.000Z';

export const WALLET_EXAMPLE = {
  id: WALLET_ID,
  ownerId: 'alice',
  currency: 'EUR',
  status: 'active',
  balance: 125000,
  held: 2500,
  available: 122500,
  createdAt: AT,
  updatedAt: AT,
};

export const LEDGER_LINE_EXAMPLE = {
  id: '1042',
  entryId: TRANSFER_ID,
  kind: 'transfer',
  transferId: TRANSFER_ID,
  description: 'rent',
  amount: -2500,
  currency: 'EUR',
  balanceAfter: 122500,
  createdAt: AT,
};

export const DEPOSIT_EXAMPLE = {
  id: '6f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0',
  walletId: WALLET_ID,
  amount: 50000,
  currency: 'EUR',
  reference: 'PSP settlement 2025-01-15 #884',
  balanceAfter: 125000,
  createdAt: AT,
};

export const TRANSFER_EXAMPLE = {
  id: TRANSFER_ID,
  status: 'COMPLETED',
  fromWalletId: WALLET_ID,
  toWalletId: OTHER_WALLET_ID,
  amount: 2500,
  currency: 'EUR',
  description: 'rent',
  steps: { reserve: 'done', accounting: 'done', ledger: 'done', notify: 'done' },
  failure: null,
  parked: null,
  workflowId: `transfer-${TRANSFER_ID}`,
  runId: '0195b7d2-8c4e-7f10-9a3b-5c6d7e8f9a0b',
  createdAt: AT,
  updatedAt: AT,
  finishedAt: AT,
};

export const PARKED_TRANSFER_EXAMPLE = {
  ...TRANSFER_EXAMPLE,
  status: 'NEEDS_ATTENTION',
  steps: { reserve: 'done', accounting: 'failed' },
  failure: { step: 'accounting', code: 'STEP_RETRIES_EXHAUSTED', reason: 'accounting system unavailable' },
  parked: { step: 'accounting', since: AT, deadline: '2025-01-18T09:30:00.000Z' },
  finishedAt: null,
};

export const CANCELLED_TRANSFER_EXAMPLE = {
  ...TRANSFER_EXAMPLE,
  status: 'CANCELLED',
  steps: { reserve: 'compensated', accounting: 'compensated' },
  failure: { step: 'accounting', code: 'CANCELLED_BY_FINANCE', reason: 'bob@finance: customer withdrew the order' },
};

export const AUDIT_EXAMPLE = {
  id: '17',
  actor: 'bob@finance',
  roles: ['finance'],
  action: 'transfer.retry',
  targetType: 'transfer',
  targetId: TRANSFER_ID,
  reason: 'accounting restored (INC-42)',
  requestId: '6d1f4c1e-0b7a-4f57-9a59-3f1e2b7c9d10',
  details: { workflowId: `transfer-${TRANSFER_ID}`, failedStep: 'accounting', failureCode: 'STEP_RETRIES_EXHAUSTED' },
  createdAt: AT,
};

export const IDS = { WALLET_ID, OTHER_WALLET_ID, TRANSFER_ID };

/** The examples several answers show: written once, under components.examples (api/openapi-components.ts shareExamples). */
export const SHARED_EXAMPLES = {
  Wallet: WALLET_EXAMPLE,
  Transfer: TRANSFER_EXAMPLE,
  ParkedTransfer: PARKED_TRANSFER_EXAMPLE,
};
