import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { setWalletStatus } from '../../domain/wallets';
import { auditActor } from '../auth/audit-actor';
import { serializeWallet } from '../serializers';
import { walletStatusSchema } from './wallets.schemas';

/**
 * On the wallet's own database, with its audit row. Freezing stops a wallet from sending and receiving; in-flight transfers touching it are cancelled by
 * their saga. Admin only; each change is audited in the transaction that makes it.
 */
const walletStatusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  for (const [action, status] of [
    ['freeze', 'frozen'],
    ['unfreeze', 'active'],
  ] as const) {
    app.post(
      `/v1/wallets/:id/${action}`,
      { schema: walletStatusSchema(action), config: { access: { roles: ['admin'], rateLimit: 'privileged' } } },
      async (request) =>
        serializeWallet(
          await setWalletStatus(app.shards.forWallet(request.params.id).store, request.params.id, status, {
            ...auditActor(request),
            reason: request.body.reason,
          }),
        ),
    );
  }
};

export default walletStatusRoutes;
