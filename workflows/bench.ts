// The workflow bundle of a worker with WORKER_BENCH_BASELINE=true (the dev stack's, for `npm run bench`):
// every production workflow plus the bench's bare workflows, so the bench measures them on the very
// workers that run transfers. Production workers load workflows/index.ts only.
export * from './index';
export * from './baseline';
