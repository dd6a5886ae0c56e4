import { localContracts } from './local-contracts.js';

// The same suites as local.test.ts, unchanged, on a real PostgreSQL (test/helpers/global-setup.ts).
localContracts('local on PostgreSQL', 'postgresql');
