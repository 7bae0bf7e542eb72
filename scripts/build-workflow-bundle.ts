import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger } from '@temporalio/worker';
import { bundleFileName, bundleTransferWorkflows } from '../worker/bundle';
import { repoRoot } from './temporal-cli';

/**
 * Pre-bundles the workflow code into dist/workflow-bundle.js, so worker processes start
 * without running webpack (Worker.create({ workflowBundle: { codePath } })).
 *
 * Run as `node dist/scripts/build-workflow-bundle.js` right after `tsc -p tsconfig.build.json`.
 * From dist/, worker/bundle.ts resolves dist/workflows/index.js (and dist/workflows/interceptors.js):
 * we bundle the compiled JS that tsc has just type-checked and emitted, not the TS source, so the
 * bundle is exactly the code the build produced. (Run from the TS source it would resolve the .ts
 * files, which the bundler also handles.)
 */
export async function buildWorkflowBundle(
  outFile = path.join(repoRoot(), 'dist', bundleFileName(false)),
  { bench = false }: { bench?: boolean } = {},
): Promise<string> {
  // the workflows and their interceptors (worker/bundle.ts)
  const { code } = await bundleTransferWorkflows({
    logger: new DefaultLogger('WARN'), // webpack's stats at INFO are noise; errors still show
    bench,
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // write-then-rename so a worker starting concurrently never reads a half-written bundle
  const tmp = `${outFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, outFile);
  return outFile;
}

if (require.main === module) {
  const started = Date.now();
  // the production bundle, and the dev stack's for `npm run bench` (WORKER_BENCH_BASELINE)
  const dist = path.join(repoRoot(), 'dist');
  Promise.all(
    [false, true].map((bench) => buildWorkflowBundle(path.join(dist, bundleFileName(bench)), { bench })),
  ).then(
    (files) => {
      for (const file of files) {
        const kib = Math.round(fs.statSync(file).size / 1024);
        console.log(`workflow bundle: ${path.relative(process.cwd(), file)} (${kib} KiB, ${Date.now() - started} ms)`);
      }
    },
    (err: unknown) => {
      console.error('building the workflow bundle failed:', err);
      process.exit(1);
    },
  );
}
