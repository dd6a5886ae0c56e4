import { randomUUID } from 'node:crypto';
import { bearerToken, FakeHttpServer, type FakeRequest, type FakeResponse } from './fake-server.js';

/**
 * Cortex (usecortex.ai) user memories, after ../shared/upstreams/README.md §3. `url` is the host.
 * Both path generations are served (§3.2, §3.3):
 *   docs: GET /user_memory/list_user_memories?tenant_id=&sub_tenant_id=
 *         DELETE /user_memory/delete_user_memory?tenant_id=&memory_id=&sub_tenant_id=
 *   v2 (the vendor's 2026 clients): POST /list/data {tenant_id, sub_tenant_id?, kind:"memories"}
 *         DELETE /memories/delete_memory?tenant_id=&memory_id=&sub_tenant_id=
 * Data is scoped by (API key, tenant_id, sub_tenant_id); no sub_tenant_id means the tenant's
 * default sub-tenant. Every tenant exists (add provisions on first use, §3.4), so an unknown
 * tenant lists nothing. The list carries no timestamps and no pagination: the fake returns every
 * memory, newest first by insertion order. Create is not offered (its contract is unconfirmed, §3.4).
 */

export interface CortexFakeOptions {
  /** API keys the fake accepts; each is a separate account. */
  apiKeys: string[];
  /** Item keys of a list: `memory_id/memory_content` (docs example, 2026 clients; default) or `source_id/source_content` (docs field table). */
  itemKeys?: 'memory' | 'source';
  /** Which path generation answers; the other one is a 404 like any unknown path. Default 'both'. */
  paths?: 'docs' | 'v2' | 'both';
  /**
   * How a delete of an unknown id answers: 404 NOT_FOUND (docs error table; default) or 200
   * `{success:true, user_memory_deleted:false}` (the documented response shape; trigger unconfirmed, §3.2).
   */
  missingDelete?: 'not-found' | 'not-deleted';
}

export interface CortexMemorySeed {
  tenantId: string;
  /** Omitted → the tenant's default sub-tenant. */
  subTenantId?: string;
  content: string;
}

interface Stored {
  id: string;
  content: string;
}

const DEFAULT_SUB_TENANT = '\0default';

export class CortexFake extends FakeHttpServer {
  readonly #apiKeys: Set<string>;
  readonly #itemKeys: 'memory' | 'source';
  readonly #paths: 'docs' | 'v2' | 'both';
  readonly #missingDelete: 'not-found' | 'not-deleted';
  /** `${apiKey}\0${tenant}\0${subTenant}` → memories, oldest first */
  readonly #scopes = new Map<string, Stored[]>();

  constructor(options: CortexFakeOptions) {
    super();
    this.#apiKeys = new Set(options.apiKeys);
    this.#itemKeys = options.itemKeys ?? 'memory';
    this.#paths = options.paths ?? 'both';
    this.#missingDelete = options.missingDelete ?? 'not-found';
  }

  /** Stores a memory for (key, tenant, sub-tenant); returns its id. */
  seedMemory(apiKey: string, seed: CortexMemorySeed): string {
    if (!this.#apiKeys.has(apiKey)) throw new Error('seedMemory: unknown API key');
    const key = scopeKey(apiKey, seed.tenantId, seed.subTenantId);
    const memories = this.#scopes.get(key) ?? [];
    const id = `memory_${randomUUID().replace(/-/g, '')}`;
    memories.push({ id, content: seed.content });
    this.#scopes.set(key, memories);
    return id;
  }

  /** 429 is undocumented for Cortex (§3.5); the fake uses the documented error envelope. */
  protected rateLimited(_req: FakeRequest, retryAfterSeconds: number): FakeResponse {
    return {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
      json: envelope('Rate limit exceeded', 'RATE_LIMIT_EXCEEDED'),
    };
  }

  protected handle(req: FakeRequest): FakeResponse {
    const token = bearerToken(req.headers);
    if (!token) return { status: 401, json: envelope('Authentication required', 'UNAUTHORIZED') };
    if (!this.#apiKeys.has(token)) return { status: 401, json: envelope('Invalid or expired API key', 'UNAUTHORIZED') };

    const docs = this.#paths !== 'v2';
    const v2 = this.#paths !== 'docs';
    const route = `${req.method} ${req.path}`;
    if (docs && route === 'GET /user_memory/list_user_memories') return this.#list(token, req.query.get('tenant_id'), req.query.get('sub_tenant_id'));
    if (docs && route === 'DELETE /user_memory/delete_user_memory') return this.#delete(token, req.query);
    if (v2 && route === 'POST /list/data') return this.#listData(token, req);
    if (v2 && route === 'DELETE /memories/delete_memory') return this.#delete(token, req.query);
    return { status: 404, json: { detail: 'Not Found' } };
  }

  /** `{success, user_memories}` with every memory of the scope (§3.3). */
  #list(apiKey: string, tenantId: string | null, subTenantId: string | null, sourceIds?: string[]): FakeResponse {
    if (!tenantId) return invalid('tenant_id is required');
    const memories = [...(this.#scopes.get(scopeKey(apiKey, tenantId, subTenantId)) ?? [])]
      .reverse()
      .filter((m) => !sourceIds || sourceIds.includes(m.id));
    const [idKey, contentKey] = this.#itemKeys === 'memory' ? ['memory_id', 'memory_content'] : ['source_id', 'source_content'];
    return {
      status: 200,
      json: { success: true, user_memories: memories.map((m) => ({ [idKey]: m.id, [contentKey]: m.content })) },
    };
  }

  /** POST /list/data, body `{tenant_id, sub_tenant_id?, kind:"memories", source_ids?}` (§3.3, openclaw-cortex ListDataRequest). */
  #listData(apiKey: string, req: FakeRequest): FakeResponse {
    const body = req.body;
    if (req.jsonError !== undefined || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return invalid('Request body must be a JSON object');
    }
    const { tenant_id, sub_tenant_id, kind, source_ids } = body as Record<string, unknown>;
    if (typeof tenant_id !== 'string' || tenant_id === '') return invalid('tenant_id is required');
    if (sub_tenant_id != null && typeof sub_tenant_id !== 'string') return invalid('sub_tenant_id must be a string');
    // Only memories are modelled; "knowledge" lists documents, whose shape the README does not give.
    if (kind !== 'memories') return invalid('kind must be "memories"');
    if (source_ids != null && !(Array.isArray(source_ids) && source_ids.every((s) => typeof s === 'string'))) {
      return invalid('source_ids must be an array of strings');
    }
    return this.#list(apiKey, tenant_id, sub_tenant_id ?? null, source_ids ?? undefined);
  }

  /** DELETE …?tenant_id=&memory_id=&sub_tenant_id= → `{success, user_memory_deleted}` (§3.2). */
  #delete(apiKey: string, query: URLSearchParams): FakeResponse {
    const tenantId = query.get('tenant_id');
    const memoryId = query.get('memory_id');
    if (!tenantId) return invalid('tenant_id is required');
    if (!memoryId) return invalid('memory_id is required');
    const memories = this.#scopes.get(scopeKey(apiKey, tenantId, query.get('sub_tenant_id'))) ?? [];
    const index = memories.findIndex((m) => m.id === memoryId);
    if (index < 0) {
      return this.#missingDelete === 'not-found'
        ? { status: 404, json: envelope('User memory not found', 'NOT_FOUND') }
        : { status: 200, json: { success: true, user_memory_deleted: false } };
    }
    memories.splice(index, 1);
    return { status: 200, json: { success: true, user_memory_deleted: true } };
  }
}

export async function startCortexFake(options: CortexFakeOptions): Promise<CortexFake> {
  return new CortexFake(options).listen();
}

function scopeKey(apiKey: string, tenantId: string, subTenantId: string | null | undefined): string {
  return `${apiKey}\0${tenantId}\0${subTenantId || DEFAULT_SUB_TENANT}`;
}

/** The documented error envelope (§3.5). */
function envelope(message: string, errorCode: string) {
  return { detail: { success: false, message, error_code: errorCode } };
}

function invalid(message: string): FakeResponse {
  return { status: 400, json: envelope(message, 'INVALID_PARAMETERS') };
}
