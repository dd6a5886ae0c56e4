// Type-checks src/ against the PostgreSQL client as well as the SQLite one. The code imports
// the SQLite client (src/generated/prisma/client.js); with `moduleSuffixes: [".pg", ""]`
// (tsconfig.check-pg.json) that import resolves to client.pg.ts instead, which this script
// writes for the run: a re-export of the PostgreSQL client. Prisma wipes its output directory
// on generate, so the file cannot live there permanently.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const overlay = `${root}src/generated/prisma/client.pg.ts`;
if (!existsSync(`${root}src/generated/prisma-pg/client.ts`)) {
  console.error('src/generated/prisma-pg is missing: run `npm run build` first');
  process.exit(1);
}
writeFileSync(overlay, "export * from '../prisma-pg/client.js';\n");
try {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.check-pg.json`], { stdio: 'inherit' });
} catch {
  process.exitCode = 1;
} finally {
  rmSync(overlay, { force: true });
}
