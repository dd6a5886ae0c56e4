import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { BackendName } from '../../backends/types.js';
import { builder } from '../builder.js';

builder.addScalarType('DateTime', DateTimeResolver, {
  description: 'An instant as an ISO-8601 string in UTC, e.g. 2026-11-23T10:15:30.000Z.',
});
builder.addScalarType('JSON', JSONResolver, {
  description: 'Any JSON value, passed through as the backend stores it.',
});

const BACKEND_VALUES = {
  LOCAL: { value: 'local', description: "The gateway's own store (SQLite or PostgreSQL through Prisma)." },
  MEMOBASE: { value: 'memobase', description: 'Memobase (user events).' },
  DATAGRID: { value: 'datagrid', description: 'Datagrid (user memories).' },
  CORTEX: { value: 'cortex', description: 'Cortex (user memories).' },
  MIELTO: { value: 'mielto', description: 'Mielto (memories).' },
} as const;

export const MemoryBackend = builder.enumType('MemoryBackend', {
  description: 'Where an item lives: the local store or the provider the tenant is routed to.',
  values: BACKEND_VALUES,
});

/** Shared `backend` field for every provider-served type. */
export const backendField = { type: MemoryBackend, description: 'Which backend answered for this item.' } as const;

export type { BackendName };

builder.queryType({ description: 'Read what the AI remembers about users.' });
builder.mutationType({ description: 'Record and forget what the AI remembers about users.' });
