import { Type } from '@sinclair/typebox';
import {
  Currency,
  MinorUnits,
  Nullable,
  PageQuery,
  PlainText,
  problemResponses,
  Timestamp,
  Uuid,
  WalletIdParams,
} from '../schemas/common';

export const WalletSchema = Type.Object(
  {
    id: Uuid,
    ownerId: Type.String(),
    currency: Type.String({ description: 'ISO 4217 code' }),
    status: Type.Union([Type.Literal('active'), Type.Literal('frozen'), Type.Literal('closed')]),
    balance: MinorUnits('posted balance, minor units'),
    held: MinorUnits('sum of active holds (transfers in flight), minor units'),
    available: MinorUnits('balance - held: what can be spent now, minor units'),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'Wallet' },
);

export const CreateWalletBody = Type.Object(
  {
    ownerId: PlainText({ maxLength: 128, description: 'the customer owning the wallet' }),
    currency: Currency,
  },
  { additionalProperties: false },
);

export const LedgerLineSchema = Type.Object(
  {
    id: Type.String({ description: 'line id, increasing over time' }),
    entryId: Uuid,
    kind: Type.String({ description: 'deposit, transfer or reversal' }),
    transferId: Nullable(Uuid),
    description: Nullable(Type.String()),
    amount: MinorUnits('signed: positive credits the wallet, negative debits it'),
    currency: Type.String(),
    balanceAfter: MinorUnits("the wallet's balance right after this line"),
    createdAt: Timestamp,
  },
  { title: 'LedgerLine' },
);

export const createWalletSchema = {
  summary: 'Create a wallet',
  tags: ['wallets'],
  body: CreateWalletBody,
  response: { 201: WalletSchema, ...problemResponses(400, 413, 415) },
};

export const getWalletSchema = {
  summary: 'Get a wallet with its balances',
  tags: ['wallets'],
  params: WalletIdParams,
  response: { 200: WalletSchema, ...problemResponses(400, 404) },
};

export const listTransactionsSchema = {
  summary: "List a wallet's ledger lines, newest first",
  tags: ['wallets'],
  params: WalletIdParams,
  querystring: PageQuery,
  response: {
    200: Type.Object(
      {
        items: Type.Array(LedgerLineSchema),
        nextCursor: Nullable(Type.String({ description: 'pass as `cursor` for the next page; null on the last page' })),
      },
      { title: 'LedgerLinePage' },
    ),
    ...problemResponses(400, 404),
  },
};
