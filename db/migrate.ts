import { createDataSource } from './data-source';

/** Applies every pending migration, each in its own transaction. */
export async function runMigrations(url: string): Promise<string[]> {
  const ds = createDataSource({ url, poolMax: 2, applicationName: 'wallet-migrate' });
  await ds.initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}
