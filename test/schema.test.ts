import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printPublicSchema } from '../src/graphql/print.js';

describe('printed SDL', () => {
  it('schema/schema.graphql matches the code (run `npm run schema:print` after changing the schema)', () => {
    const committed = readFileSync(new URL('../schema/schema.graphql', import.meta.url), 'utf8');
    expect(printPublicSchema()).toBe(committed);
  });
});
