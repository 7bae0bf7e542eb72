import { cleanupTestRun } from './global-setup';

/** Stops the Temporal dev server, drops the run's database (unless KEEP_TEST_DB=1), removes temp files. */
export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__walletTestRun;
  if (!state) return;
  globalThis.__walletTestRun = undefined;
  await cleanupTestRun(state, { keepDb: process.env.KEEP_TEST_DB === '1' });
}
