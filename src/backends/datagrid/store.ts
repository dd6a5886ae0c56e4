import { notSupported } from '../../errors.js';
import type { UpstreamClient } from '../http.js';
import type { UserMemoryStore } from '../types.js';

// Placeholder until the Datagrid adapter lands: every call answers NOT_SUPPORTED.
export function datagridUserMemoryStore(_client: UpstreamClient): UserMemoryStore {
  const no = async (): Promise<never> => {
    throw notSupported('datagrid', 'this operation yet');
  };
  return { backend: 'datagrid', list: no, add: no, delete: no };
}
