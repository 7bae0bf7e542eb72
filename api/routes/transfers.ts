import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DomainError } from '../../domain/errors';
import { decodeCursor, encodeCursor } from '../../domain/history';
import { transferIdFor } from '../../domain/ids';
import { parseAmount } from '../../domain/money';
import { getTransfer, listTransfers } from '../../domain/transfers/records';
import { ApiError } from '../errors';
import { awaitSettled, isSettled } from '../transfers/await-settled';
import { decideParkedTransfer } from '../transfers/finance';
import { serializeTransfer } from '../transfers/serialize';
import { startTransfer } from '../transfers/start-transfer';
import { transferSchemas } from './transfers.schemas';

/** `Prefer: wait=N` → N seconds (validated to 0..30 by the header schema). */
function waitSecondsOf(prefer: string | undefined): number {
  const match = prefer ? /wait=(\d+)/.exec(prefer) : null;
  return match ? Number(match[1]) : 0;
}

const transferRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const schemas = transferSchemas(app.config.maxAmountMinor);
  const deps = { db: app.db, temporal: app.temporal, config: app.config };

  app.post('/v1/transfers', { schema: schemas.create, preValidation: app.requireIdempotencyKey }, async (request, reply) => {
    const body = request.body;
    const amount = parseAmount(body.amount, app.config.maxAmountMinor);
    if (body.fromWalletId === body.toWalletId) throw new DomainError('SAME_WALLET', 'a transfer needs two different wallets');
    const waitSeconds = waitSecondsOf(request.headers.prefer);

    const started = await app.idempotent(request, reply, {
      resourceType: 'transfer',
      resourceId: transferIdFor(request.callerId, request.idempotencyKey),
      run: async ({ requestHash }) => {
        const { transfer, created } = await startTransfer(deps, {
          callerId: request.callerId,
          idempotencyKey: request.idempotencyKey,
          requestHash,
          fromWalletId: body.fromWalletId,
          toWalletId: body.toWalletId,
          amount,
          currency: body.currency,
          description: body.description ?? null,
        });
        return { created, result: transfer };
      },
    });
    // A replay answers with the transfer's current state, not a stored copy: the saga may have moved on.
    const transfer = waitSeconds > 0 ? await awaitSettled(app.db, started.id, waitSeconds) : started;
    if (waitSeconds > 0) reply.header('preference-applied', `wait=${waitSeconds}`);
    return reply
      .code(isSettled(transfer) && waitSeconds > 0 ? 200 : 202)
      .header('location', `/v1/transfers/${transfer.id}`)
      .send(serializeTransfer(transfer));
  });

  app.get('/v1/transfers/:id', { schema: schemas.get }, async (request) => {
    return serializeTransfer(await getTransfer(app.db, request.params.id));
  });

  app.get('/v1/transfers', { schema: schemas.list }, async (request) => {
    const { status, walletId, limit = 20, cursor } = request.query;
    let afterSeq: bigint | null = null;
    if (cursor !== undefined) {
      const seq = decodeCursor(cursor, /^[1-9][0-9]{0,17}$/);
      if (seq === null) throw new ApiError('INVALID_CURSOR', 'cursor is not one this API issued');
      afterSeq = BigInt(seq);
    }
    const rows = await listTransfers(app.db, { status, walletId, limit: limit + 1, afterSeq });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(serializeTransfer),
      nextCursor: rows.length > limit && last ? encodeCursor(last.seq.toString()) : null,
    };
  });

  for (const action of ['retry', 'cancel'] as const) {
    app.post(`/v1/transfers/:id/${action}`, { schema: schemas.decide(action) }, async (request, reply) => {
      const transfer = await decideParkedTransfer(deps, request.params.id, action, {
        actor: request.callerId,
        reason: request.body.reason,
      });
      return reply.code(202).send(serializeTransfer(transfer));
    });
  }
};

export default transferRoutes;
