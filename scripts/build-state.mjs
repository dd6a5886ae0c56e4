#!/usr/bin/env node
// Keeps `npm start` fast: the build (prisma generate, tsc, the bundle: 15-20 s) runs at `npm ci`
// and `npm run build`, and `npm start` rebuilds only when the build inputs changed since.
//
//   node scripts/build-state.mjs --record   after a build: remembers a hash of its inputs in dist/
//   ensureBuilt() (scripts/start.mjs)       before starting: builds when dist/ is missing or stale
//
// The inputs are hashed by content, not compared by date: a checkout or a copy changes file
// times without changing what the build produces. Plain JavaScript with no dependencies, so
// that checking costs a few milliseconds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stateFile = join(root, 'dist', '.build-inputs');
const outputs = ['dist/main.bundle.js', 'dist/cli.js'];

/** Everything the build reads: the sources (not the generated client), Prisma's schema and config, the compiler and dependency settings. */
function inputs() {
  const files = ['prisma/schema.prisma', 'prisma/postgresql/schema.prisma', 'prisma.config.ts', 'tsconfig.json', 'package-lock.json', 'scripts/bundle.mjs'].map((f) => join(root, f));
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(root, 'src', 'generated')) walk(path);
      } else {
        files.push(path);
      }
    }
  };
  walk(join(root, 'src'));
  return files.filter((f) => existsSync(f)).sort();
}

function inputHash() {
  const hash = createHash('sha256');
  for (const file of inputs()) hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

/** Runs `npm run build` (its output shown) unless dist/ was built from the current inputs; exits when it fails. */
export function ensureBuilt() {
  const built = outputs.every((f) => existsSync(join(root, f))) && existsSync(stateFile);
  if (built && readFileSync(stateFile, 'utf8').trim() === inputHash()) return;
  console.error(built ? 'Sources changed since the last build: building…' : 'No build yet: building…');
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--record') {
    writeFileSync(stateFile, `${inputHash()}\n`);
  } else {
    console.error('usage: node scripts/build-state.mjs --record');
    process.exit(2);
  }
}
