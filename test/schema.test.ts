import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printPublicSchema, printSubgraphSdl, sortedSubgraphSdl } from '../src/graphql/print.js';
import { dataOf, startGateway } from './helpers/gateway.js';

const committed = (file: string) => readFileSync(new URL(`../schema/${file}`, import.meta.url), 'utf8');

describe('printed SDL', () => {
  it('schema/schema.graphql matches the code (run `npm run schema:print` after changing the schema)', () => {
    expect(printPublicSchema()).toBe(committed('schema.graphql'));
  });

  it('schema/subgraph.graphql matches the code (run `npm run schema:print` after changing the schema)', () => {
    expect(printSubgraphSdl()).toBe(committed('subgraph.graphql'));
  });

  it('the subgraph SDL links federation v2 and makes User an entity keyed by id', () => {
    const sdl = committed('subgraph.graphql');
    expect(sdl).toMatch(/^extend schema\s+@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+", import: \["@key"\]\)/);
    expect(sdl).toMatch(/^type User\s+@key\(fields: "id"\)\s+\{/m);
    // What routers add themselves is not part of the printed subgraph SDL.
    expect(sdl).not.toMatch(/_entities|_service|_Any/);
  });

  it('the server answers `_service { sdl }` with the committed subgraph SDL', async () => {
    const gateway = await startGateway();
    try {
      const token = await gateway.createKey('tenant-sdl');
      const res = await gateway.execute<{ _service: { sdl: string } }>('{ _service { sdl } }', {}, { token });
      expect(sortedSubgraphSdl(dataOf(res)._service.sdl)).toBe(committed('subgraph.graphql'));
    } finally {
      await gateway.close();
    }
  });
});
