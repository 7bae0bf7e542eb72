import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { livenessSchema, readinessSchema } from './health.schemas';

/** Postgres gets this long to answer a readiness probe; the checks run in parallel. */
const CHECK_TIMEOUT_MS = 1500;
/**
 * Temporal's deadline is shorter because the SDK's gRPC retry loop may add one backoff step after it.
 * It is a real gRPC deadline, not a race: a raced call would keep retrying after the answer was sent
 * (and throw "Channel has been shut down" if the app closed meanwhile).
 */
const TEMPORAL_DEADLINE_MS = 1000;

function shortReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `unreachable: ${message.split('\n')[0]!.slice(0, 120)}`;
}

async function probe(name: string, check: () => Promise<unknown>): Promise<[string, string]> {
  try {
    await check();
    return [name, 'ok'];
  } catch (err) {
    return [name, shortReason(err)];
  }
}

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Liveness: the process serves requests. Deliberately checks no dependency, so an outage of
  // Postgres does not get every API pod restarted.
  app.get('/health/live', { schema: livenessSchema }, async () => ({ status: 'ok' as const }));

  // Readiness: the dependencies answer, so the load balancer may send traffic here. Every database is
  // probed and reported, but only database 0 (the service-wide tables) decides: a wallet shard that is
  // down answers its own requests 503 SHARD_UNAVAILABLE, and taking every API instance out of the load
  // balancer for it would turn the outage of one shard into an outage of all.
  app.get('/health/ready', { schema: readinessSchema }, async (_request, reply) => {
    const temporal = app.temporal.connection;
    const databases = Promise.all(
      // a database down since start-up (api/plugins/db.ts is still trying to reach it): 'not connected yet'
      app.shards.all.map((db) => probe(db.name, () => db.store.ping(CHECK_TIMEOUT_MS))),
    );
    const results = await Promise.all([
      databases.then((all) => ['postgres', all.find(([name]) => name === app.shards.home.name)![1]] as const),
      probe('redis', () => {
        // not connected: say so, rather than ioredis's "Stream isn't writeable…"
        if (app.redis.status !== 'ready') throw new Error(`connection ${app.redis.status}`);
        return app.redis.ping(); // bounded by the client's commandTimeout (api/plugins/redis.ts, 1 s)
      }),
      probe('temporal', () =>
        temporal.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
          temporal.workflowService.describeNamespace({ namespace: app.config.TEMPORAL_NAMESPACE }),
        ),
      ),
    ]);
    const checks = Object.fromEntries(results) as { postgres: string; redis: string; temporal: string };
    const ok = results.every(([, result]) => result === 'ok');
    return reply
      .code(ok ? 200 : 503)
      .send({ status: ok ? 'ok' : 'unavailable', checks, databases: Object.fromEntries(await databases) });
  });
};

export default healthRoutes;
