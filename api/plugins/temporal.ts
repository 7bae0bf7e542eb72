import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Temporal client for starting and querying transfer workflows. */
    temporal: Client;
  }
}

/**
 * A lazy connection: nothing is dialled until the first call, so the API boots (and answers
 * everything but transfers) while Temporal is down; gRPC reconnects by itself once it is back.
 * Callers should bound their calls with `connection.withDeadline` (see the readiness check).
 */
export default fp(
  async (app) => {
    const connection = Connection.lazy({ address: app.config.TEMPORAL_ADDRESS, connectTimeout: '2s' });
    // with tracing on, starting (or signalling) a workflow is a span whose context travels in the
    // workflow's headers (api/plugins/tracing.ts, workflows/interceptors.ts)
    const tracer = app.tracing.enabled ? app.tracing.tracer : undefined;
    const client = new Client({
      connection,
      namespace: app.config.TEMPORAL_NAMESPACE,
      ...(tracer ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer })] } } : {}),
    });
    app.decorate('temporal', client);
    app.addHook('onClose', async () => {
      await connection.close();
    });
  },
  { name: 'temporal', fastify: '5.x', decorators: { fastify: ['config', 'tracing'] } },
);
