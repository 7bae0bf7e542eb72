import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listWalletLines } from '../../domain/history';
import { createWallet, getWallet } from '../../domain/wallets';
import { listWalletsAcross } from '../across-shards';
import { ALL_ROLES } from '../plugins/caller';
import { isStaff, visibleWallet } from '../auth/policy';
import { ApiError } from '../errors';
import { afterIdKeyOf, afterKeyOf } from '../pagination';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common';
import { serializeLine, serializeWallet } from '../serializers';
import { createWalletSchema, getWalletSchema, listTransactionsSchema, listWalletsSchema } from './wallets.schemas';

const walletRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/wallets',
    { schema: createWalletSchema, config: { access: { roles: ['customer'], rateLimit: 'createWallet' } } },
    async (request, reply) => {
      const ownerId = request.body.ownerId ?? request.callerId;
      if (ownerId !== request.callerId) throw new ApiError('FORBIDDEN', 'customers open wallets for themselves only');
      // on its owner's database: the id it gets carries the owner's logical shard, so any process finds it
      const wallet = await createWallet(app.shards.forOwner(ownerId).store, {
        ownerId,
        currency: request.body.currency,
      });
      return reply.code(201).header('location', `/v1/wallets/${wallet.id}`).send(serializeWallet(wallet));
    },
  );

  app.get(
    '/v1/wallets/:id',
    { schema: getWalletSchema, config: { access: { roles: ALL_ROLES, rateLimit: 'read' } } },
    async (request) =>
      serializeWallet(
        visibleWallet(request, await getWallet(app.shards.forWallet(request.params.id).store, request.params.id)),
      ),
  );

  app.get(
    '/v1/wallets',
    { schema: listWalletsSchema, config: { access: { roles: ALL_ROLES, rateLimit: 'read' } } },
    async (request) => {
      const { ownerId, currency, status, limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
      const after = afterIdKeyOf(cursor);
      // a customer lists its own wallets (on its own databases only); someone else's owner id finds nothing
      if (!isStaff(request) && ownerId !== undefined && ownerId !== request.callerId)
        return { items: [], nextCursor: null };
      const owner = isStaff(request) ? ownerId : request.callerId;
      const page = await listWalletsAcross(app.shards, { ownerId: owner, currency, status }, { limit, after });
      return { items: page.items.map(serializeWallet), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/wallets/:id/transactions',
    { schema: listTransactionsSchema, config: { access: { roles: ALL_ROLES, rateLimit: 'read' } } },
    async (request) => {
      const afterId = afterKeyOf(request.query.cursor);
      const store = app.shards.forWallet(request.params.id).store;
      // 404 for an unknown wallet (or one the caller may not see) rather than an empty page
      visibleWallet(request, await getWallet(store, request.params.id));
      const page = await listWalletLines(store, request.params.id, {
        limit: request.query.limit ?? DEFAULT_PAGE_LIMIT,
        afterId,
      });
      return { items: page.items.map(serializeLine), nextCursor: page.nextCursor };
    },
  );
};

export default walletRoutes;
