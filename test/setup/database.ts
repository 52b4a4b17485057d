import type { TestProject } from 'vitest/node';
// @ts-expect-error plain ESM helper shared with the demo and the benches
import { getDatabase } from '../../loadtests/lib/database.mjs';
// @ts-expect-error plain ESM helper shared with the demo and the benches
import { seed } from '../../loadtests/app/seed.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    databaseKind: string;
  }
}

/**
 * One real PostgreSQL for the whole run: DATABASE_URL, else the local server on 127.0.0.1:5432 (a fresh
 * database, dropped afterwards), else an embedded PostgreSQL from npm. Seeded once at scale 1.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const db = (await getDatabase({ log: (m: string) => console.error(`[test db] ${m}`) })) as { url: string; kind: string; stop: () => Promise<void> };
  console.error(`[test db] using ${db.kind} PostgreSQL`);
  await seed(db.url, { scale: 1 });
  project.provide('databaseUrl', db.url);
  project.provide('databaseKind', db.kind);
  return () => db.stop();
}
