import { notSupported } from '../../errors.js';
import type { UpstreamClient } from '../http.js';
import type { MemoryStore } from '../types.js';

// Placeholder until the Mielto adapter lands: every call answers NOT_SUPPORTED.
export function mieltoMemoryStore(_client: UpstreamClient, _options: { workspaceId?: string }): MemoryStore {
  const no = async (): Promise<never> => {
    throw notSupported('mielto', 'this operation yet');
  };
  return { backend: 'mielto', list: no, create: no, delete: no };
}
