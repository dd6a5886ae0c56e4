import { localContracts } from './local-contracts.js';

localContracts('local', 'sqlite');
