import { notSupported } from '../../errors.js';
import type { UpstreamClient } from '../http.js';
import type { UserEventStore } from '../types.js';

// Placeholder until the Memobase adapter lands: every call answers NOT_SUPPORTED.
export function memobaseUserEventStore(_client: UpstreamClient): UserEventStore {
  const no = async (): Promise<never> => {
    throw notSupported('memobase', 'this operation yet');
  };
  return { backend: 'memobase', list: no, create: no, delete: no };
}
