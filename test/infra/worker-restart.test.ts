import fs from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * Every supervisor starts a worker that exited on its own again (a crash loses nothing: Temporal
 * retries its tasks on the other workers): compose by its restart policy, Kubernetes by the worker
 * Deployment's pod restart policy and its liveness probe (a worker that hangs instead of exiting),
 * `npm start` by scripts/dev-stack.ts (test/dev-stack.test.ts kills one).
 */
const ROOT = path.resolve(__dirname, '../..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

describe('worker restarts', () => {
  it('compose restarts a worker that exits, whatever its exit code', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { restart?: string }>;
    };
    // `on-failure` would not restart a worker that exited 0 on its own; `unless-stopped` and `always` do
    expect(['unless-stopped', 'always']).toContain(compose.services.worker?.restart);
  });

  it('Kubernetes restarts the worker container when it exits or stops answering its liveness probe', () => {
    const docs = parseAllDocuments(read('infra/k8s/worker-deployment.yaml')).map(
      (d) => d.toJS() as Record<string, unknown>,
    );
    const deployment = docs.find((d) => d.kind === 'Deployment') as {
      spec: {
        template: {
          spec: {
            restartPolicy?: string;
            containers: Array<{ name: string; livenessProbe?: { httpGet?: { path: string } } }>;
          };
        };
      };
    };
    const pod = deployment.spec.template.spec;
    expect(pod.restartPolicy ?? 'Always').toBe('Always');
    expect(pod.containers.find((c) => c.name === 'worker')?.livenessProbe?.httpGet?.path).toBe('/health/live');
  });
});
