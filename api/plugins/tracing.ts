import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import fp from 'fastify-plugin';
import { TRACING_OFF, type Tracing } from '../../observability/tracing';

declare module 'fastify' {
  interface FastifyInstance {
    /** OpenTelemetry of this app (observability/tracing.ts); `enabled: false` unless OTEL_EXPORTER_OTLP_ENDPOINT is set. */
    tracing: Tracing;
  }
  interface FastifyRequest {
    /** The request's server span, when tracing is on. */
    otelSpan?: Span;
  }
}

/**
 * A server span per request (`POST /v1/transfers`: the route pattern, like the metrics), continuing
 * an incoming W3C `traceparent`. The handler runs inside it (the span is made active in the last
 * root hook before the handler, after the body is parsed), so the Temporal client interceptor
 * (api/plugins/temporal.ts) starts a transfer's workflow as its child. With tracing off this
 * plugin only decorates `app.tracing` and adds no hook.
 */
export default fp<{ tracing?: Tracing }>(
  async (app, opts) => {
    const tracing = opts.tracing ?? TRACING_OFF;
    app.decorate('tracing', tracing);
    const tracer = tracing.tracer;
    if (!tracing.enabled || !tracer) return;

    app.decorateRequest('otelSpan', undefined);
    app.addHook('onRequest', async (request) => {
      const route = request.routeOptions.url;
      const parent = propagation.extract(context.active(), request.headers);
      request.otelSpan = tracer.startSpan(
        `${request.method} ${route ?? 'unmatched'}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'url.path': request.url.split('?')[0],
            ...(route ? { 'http.route': route } : {}),
            'wallet.request_id': request.id,
          },
        },
        parent,
      );
    });
    // callback style on purpose: `done` (and with it the rest of the chain and the handler) runs
    // inside context.with, so AsyncLocalStorage carries the span into the handler's async work
    app.addHook('preHandler', (request, _reply, done) => {
      if (!request.otelSpan) return done();
      context.with(trace.setSpan(context.active(), request.otelSpan), done);
    });
    app.addHook('onError', async (request, _reply, err) => {
      request.otelSpan?.recordException(err);
    });
    app.addHook('onResponse', async (request, reply) => {
      const span = request.otelSpan;
      if (!span) return;
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
  },
  { name: 'tracing', fastify: '5.x' },
);
