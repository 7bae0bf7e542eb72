import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { setWalletStatus } from '../../domain/wallets';
import { problemResponses, WalletIdParams } from '../schemas/common';
import { serializeWallet } from '../serializers';
import { WalletSchema } from './wallets.schemas';

/** Freezing stops a wallet from sending and receiving; in-flight transfers touching it are cancelled by their saga. */
const walletStatusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  for (const [action, status] of [
    ['freeze', 'frozen'],
    ['unfreeze', 'active'],
  ] as const) {
    app.post(
      `/v1/wallets/:id/${action}`,
      {
        schema: {
          summary: action === 'freeze' ? 'Freeze a wallet' : 'Unfreeze a wallet',
          tags: ['wallets'],
          params: WalletIdParams,
          response: { 200: WalletSchema, ...problemResponses(400, 404, 409) },
        },
      },
      async (request) => serializeWallet(await setWalletStatus(app.db, request.params.id, status)),
    );
  }
};

export default walletStatusRoutes;
