import { notSupported } from '../../errors.js';
import type { UpstreamClient } from '../http.js';
import type { UserMemoryStore } from '../types.js';

// Placeholder until the Cortex adapter lands: every call answers NOT_SUPPORTED.
export function cortexUserMemoryStore(_client: UpstreamClient, _options: { tenantId: string; paths: 'user_memory' | 'memories' }): UserMemoryStore {
  const no = async (): Promise<never> => {
    throw notSupported('cortex', 'this operation yet');
  };
  return { backend: 'cortex', list: no, add: no, delete: no };
}
