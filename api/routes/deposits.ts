import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { deposit, type Deposit } from '../../domain/deposits';
import { DomainError } from '../../domain/errors';
import { depositIdFor } from '../../domain/ids';
import { parseAmount } from '../../domain/money';
import { auditActor } from '../auth/audit-actor';
import { serializeDeposit } from '../serializers';
import { depositSchemas } from './deposits.schemas';

function sameRequest(d: Deposit, walletId: string, amount: bigint, reference: string | null): boolean {
  return d.walletId === walletId && d.amount === amount && d.reference === reference;
}

/**
 * Deposits are money entering the system, so only finance and admin may post them (in production: the
 * payment-provider integration, running as finance); every deposit is audited in its own transaction.
 */
const depositRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const schemas = depositSchemas(app.config.maxAmountMinor);

  app.post(
    '/v1/wallets/:id/deposits',
    {
      schema: schemas.create,
      preValidation: app.requireIdempotencyKey,
      config: { access: { roles: ['finance', 'admin'], rateLimit: 'deposit' } },
    },
    async (request, reply) => {
      const walletId = request.params.id;
      const amount = parseAmount(request.body.amount, app.config.maxAmountMinor); // number → bigint, bounds re-checked
      const reference = request.body.reference ?? null;
      const depositId = depositIdFor(request.callerId, request.idempotencyKey);

      const body = await app.idempotent(request, reply, {
        resourceType: 'deposit',
        resourceId: depositId,
        run: async () => {
          // the wallet's database: its entry (from that shard's system account) and its audit row
          const store = app.shards.forWallet(walletId).store;
          const outcome = await deposit(store, { depositId, walletId, amount, reference, audit: auditActor(request) });
          if (outcome.created) app.metrics.deposit(outcome.deposit.currency, outcome.deposit.amount); // transactions_total{type="deposit"}
          // Belt and braces: the deposit id derives from the key alone, so if the key's record was ever
          // purged, an old deposit could answer a new request. Refuse rather than replay the wrong one.
          if (!outcome.created && !sameRequest(outcome.deposit, walletId, amount, reference)) {
            throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key already names a different deposit');
          }
          // Rendered from the immutable ledger entry: every replay is byte-identical to the first answer.
          return { created: outcome.created, result: serializeDeposit(outcome.deposit) };
        },
      });
      return reply.code(201).send(body);
    },
  );
};

export default depositRoutes;
