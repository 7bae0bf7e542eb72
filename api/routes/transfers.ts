import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DomainError } from '../../domain/errors';
import { parseAmount } from '../../domain/money';
import { getTransfer } from '../../domain/transfers/records';
import { ownsAnyWallet } from '../../domain/wallets';
import { listTransfersAcross, ownedWalletIds } from '../across-shards';
import { auditActor } from '../auth/audit-actor';
import { isStaff, visibleTransfer, walletNotFound } from '../auth/policy';
import { afterIdKeyOf } from '../pagination';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common';
import { ALL_ROLES } from '../plugins/caller';
import { decideParkedTransfer, decisionUpdateIdFor } from '../transfers/finance';
import { serializeTransfer } from '../transfers/serialize';
import { isSettled } from '../../domain/transfer-status';
import { waitSecondsOf } from '../transfers/prefer';
import { assertNotRefused, startTransfer, transferIdOf } from '../transfers/start-transfer';
import { transferSchemas } from './transfers.schemas';

const transferRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const schemas = transferSchemas(app.config.maxAmountMinor);
  const deps = { shards: app.shards, temporal: app.temporal, config: app.config };
  const serialize = (t: Parameters<typeof serializeTransfer>[0]) =>
    serializeTransfer(t, app.config.TRANSFER_PARK_DEADLINE_SECONDS);

  const create = {
    schema: schemas.create,
    preValidation: app.requireIdempotencyKey,
    config: { access: { roles: ['customer'], rateLimit: 'transfer' } },
  } as const;
  app.post('/v1/transfers', create, async (request, reply) => {
    const body = request.body;
    const amount = parseAmount(body.amount, app.config.maxAmountMinor);
    if (body.fromWalletId === body.toWalletId)
      throw new DomainError('SAME_WALLET', 'a transfer needs two different wallets');
    // Money moves only out of the caller's own wallets (asked of the sender's database); anyone else's
    // answers exactly like a missing one. The destination may be anyone's (that is how you pay someone) but
    // must exist, be active and hold the currency: checked on its own database before anything is written.
    const sender = app.shards.forWallet(body.fromWalletId).store;
    if (!(await ownsAnyWallet(sender, request.callerId, [body.fromWalletId]))) throw walletNotFound(body.fromWalletId);
    const waitSeconds = waitSecondsOf(request.headers.prefer);

    const transfer = await app.idempotent(request, reply, {
      resourceType: 'transfer',
      resourceId: transferIdOf({ ...body, callerId: request.callerId, idempotencyKey: request.idempotencyKey }),
      run: async ({ requestHash }) => {
        const { transfer, created } = await startTransfer(
          deps,
          {
            callerId: request.callerId,
            idempotencyKey: request.idempotencyKey,
            requestHash,
            fromWalletId: body.fromWalletId,
            toWalletId: body.toWalletId,
            amount,
            currency: body.currency,
            description: body.description ?? null,
          },
          { waitSeconds },
        );
        return { created, result: transfer };
      },
    });
    // from here on (and in "request completed") this request's log lines name the transfer and its saga
    request.log = reply.log = request.log.child({ transferId: transfer.id, workflowId: transfer.workflowId });
    request.log.info(
      { status: transfer.status, replayed: reply.getHeader('idempotent-replayed') === 'true' },
      'transfer answered',
    );
    if (waitSeconds > 0) reply.header('preference-applied', `wait=${waitSeconds}`);
    reply.header('location', `/v1/transfers/${transfer.id}`);
    // The saga's answer: refused (422 with the code), or the transfer once the hold is placed. A replay
    // answers the same way, with the transfer's current state.
    assertNotRefused(transfer);
    return reply.code(isSettled(transfer.status) && waitSeconds > 0 ? 200 : 202).send(serialize(transfer));
  });

  const read = { access: { roles: ALL_ROLES, rateLimit: 'read' } } as const;

  app.get('/v1/transfers/:id', { schema: schemas.get, config: read }, async (request) => {
    const id = request.params.id;
    return serialize(
      await visibleTransfer(app.shards, request, await getTransfer(app.shards.forTransfer(id).store, id)),
    );
  });

  app.get('/v1/transfers', { schema: schemas.list, config: read }, async (request) => {
    const { status, walletId, currency, failedStep, limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
    const after = afterIdKeyOf(cursor);
    // Staff see everything. A customer sees its own transfers (sent or received): scoped to the wallets it
    // owns, and a walletId filter naming a wallet that is not its own answers 404 like a missing wallet.
    const staff = isStaff(request);
    let walletIds: string[] | undefined;
    if (walletId !== undefined) {
      const store = app.shards.forWallet(walletId).store;
      if (!staff && !(await ownsAnyWallet(store, request.callerId, [walletId]))) throw walletNotFound(walletId);
      walletIds = [walletId];
    } else if (!staff) {
      // the caller's wallets, from its own databases (its shard's, and its wallets from before sharding);
      // its transfers from every database, since a transfer it received lives on its sender's
      walletIds = await ownedWalletIds(app.shards, request.callerId);
      if (walletIds.length === 0) return { items: [], nextCursor: null };
    }
    const page = await listTransfersAcross(app.shards, { status, currency, failedStep, walletIds }, { limit, after });
    return { items: page.items.map(serialize), nextCursor: page.nextCursor };
  });

  for (const action of ['retry', 'cancel'] as const) {
    const decide = {
      schema: schemas.decide(action),
      preValidation: app.requireIdempotencyKey,
      config: { access: { roles: ['finance', 'admin'], rateLimit: 'privileged' } },
    } as const;
    app.post(`/v1/transfers/:id/${action}`, decide, async (request, reply) => {
      // The key names one decision (one Workflow Update) on this transfer: re-sent, it answers with
      // that decision's outcome, also when the first answer was a 503 and the saga applied it anyway.
      const updateId = decisionUpdateIdFor(request.callerId, request.idempotencyKey);
      const { outcome, transfer } = await app.idempotent(request, reply, {
        resourceType: 'transfer',
        resourceId: request.params.id,
        run: async () => {
          const decided = await decideParkedTransfer(
            deps,
            request.params.id,
            action,
            request.body.reason,
            auditActor(request),
            updateId,
          );
          return { created: !decided.replayed, result: decided };
        },
      });
      return reply.code(outcome === 'applied' ? 200 : 202).send(serialize(transfer));
    });
  }
};

export default transferRoutes;
