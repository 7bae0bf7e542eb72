import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listWalletLines } from '../../domain/history';
import { createWallet, getWallet } from '../../domain/wallets';
import { ALL_ROLES } from '../plugins/caller';
import { visibleWallet } from '../auth/policy';
import { ApiError } from '../errors';
import { afterKeyOf } from '../pagination';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common';
import { serializeLine, serializeWallet } from '../serializers';
import { createWalletSchema, getWalletSchema, listTransactionsSchema } from './wallets.schemas';

const walletRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/wallets',
    { schema: createWalletSchema, config: { access: { roles: ['customer'], rateLimit: 'createWallet' } } },
    async (request, reply) => {
      const ownerId = request.body.ownerId ?? request.callerId;
      if (ownerId !== request.callerId) throw new ApiError('FORBIDDEN', 'customers open wallets for themselves only');
      const wallet = await createWallet(app.db, { ownerId, currency: request.body.currency });
      return reply.code(201).header('location', `/v1/wallets/${wallet.id}`).send(serializeWallet(wallet));
    },
  );

  app.get(
    '/v1/wallets/:id',
    { schema: getWalletSchema, config: { access: { roles: ALL_ROLES, rateLimit: 'read' } } },
    async (request) => serializeWallet(visibleWallet(request, await getWallet(app.db, request.params.id))),
  );

  app.get(
    '/v1/wallets/:id/transactions',
    { schema: listTransactionsSchema, config: { access: { roles: ALL_ROLES, rateLimit: 'read' } } },
    async (request) => {
      const afterId = afterKeyOf(request.query.cursor);
      // 404 for an unknown wallet (or one the caller may not see) rather than an empty page
      visibleWallet(request, await getWallet(app.db, request.params.id));
      const page = await listWalletLines(app.db, request.params.id, {
        limit: request.query.limit ?? DEFAULT_PAGE_LIMIT,
        afterId,
      });
      return { items: page.items.map(serializeLine), nextCursor: page.nextCursor };
    },
  );
};

export default walletRoutes;
