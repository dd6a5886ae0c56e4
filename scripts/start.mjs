#!/usr/bin/env node
// `npm start`: the server, rebuilt first only when its sources changed since the last build.
// One process: checking costs milliseconds, not a second Node start-up.
import { ensureBuilt } from './build-state.mjs';

ensureBuilt();
await import('../dist/main.bundle.js');
