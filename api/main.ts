import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from '../config';
import { SchemaNotCurrent } from '../db/shards';
import { startTracing } from '../observability/tracing';
import { buildApp } from './app';

/** Time the API gets to finish in-flight requests on SIGTERM/SIGINT before it exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    // No app logger yet: a bare pino so the failure is still one structured line. A config error's
    // message says what to fix; its stack would only be noise.
    if (err instanceof ConfigError) pino().fatal(err.message);
    else pino().fatal({ err }, 'could not load configuration');
    process.exit(1);
  }

  const tracing = startTracing(config, 'wallet-api'); // off unless OTEL_EXPORTER_OTLP_ENDPOINT is set
  const app = await buildApp({ config, tracing });
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an unexpected error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
    await tracing.shutdown(); // flushes the spans still buffered
  });
  await app.listen({ host: config.HOST, port: config.PORT });
}

main().catch((err: unknown) => {
  // a configuration error found while building the app (e.g. no secret or key) says what to fix: one line, no stack
  if (err instanceof ConfigError || err instanceof SchemaNotCurrent) pino().fatal(err.message);
  else pino().fatal({ err }, 'API failed to start');
  process.exit(1);
});
