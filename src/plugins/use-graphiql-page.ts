import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import type { Plugin } from 'graphql-yoga';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

interface Page {
  etag: string;
  identity: Buffer;
  gzip: Buffer;
  br: Buffer;
}

/**
 * Serves GraphiQL from the bundled page (no CDN: it works offline), rendered and compressed once
 * per server rather than per request. The page is several megabytes; rendering it on every GET
 * let anonymous requests cost the server far more than they cost the caller. Served with an
 * ETag, so a browser revalidates with a 304, and compressed for clients that accept it.
 */
export function useGraphiQLPage(endpoint: string, render: () => Promise<string>): Plugin {
  let page: Promise<Page> | undefined;
  const build = async (): Promise<Page> => {
    const identity = Buffer.from(await render(), 'utf8');
    const [gz, br] = await Promise.all([
      gzipAsync(identity, { level: 6 }),
      // Quality 5 compresses nearly as well as 11 on this page, in a fraction of the time.
      brotli(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length } }),
    ]);
    return { etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 27)}"`, identity, gzip: gz, br };
  };

  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname !== endpoint && url.pathname !== `${endpoint}/`) return;
      if (!request.headers.get('accept')?.includes('text/html')) return;
      page ??= build().catch((error: unknown) => {
        page = undefined;
        throw error;
      });
      return page.then((p) => {
        const headers: Record<string, string> = {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'public, max-age=3600',
          etag: p.etag,
          vary: 'accept-encoding',
        };
        if (request.headers.get('if-none-match')?.split(/\s*,\s*/).includes(p.etag)) {
          endResponse(new fetchAPI.Response(null, { status: 304, headers }));
          return;
        }
        const accepted = request.headers.get('accept-encoding') ?? '';
        let body = p.identity;
        if (/\bbr\b/.test(accepted)) [body, headers['content-encoding']] = [p.br, 'br'];
        else if (/\bgzip\b/.test(accepted)) [body, headers['content-encoding']] = [p.gzip, 'gzip'];
        headers['content-length'] = String(body.length);
        endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers }));
      });
    },
  };
}
