import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { serveOverHttp, type ServedGateway } from '../helpers/http-server.js';

/**
 * GraphiQL as a user meets it: the real server over HTTP, a real Chromium, the key typed into
 * the Headers editor, the default query run, the Docs explorer opened. GraphiQL's code is served
 * by the gateway itself, so this passes without internet access.
 */

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'test-results/graphiql.png';
const MEMORY_TEXT = `prefers window seats ${Date.now()}`;

/** What the user reads: the editor renders spaces as no-break spaces. */
const textOf = async (locator: ReturnType<Page['locator']>) => (await locator.innerText()).replace(/\u00a0/g, ' ');

describe('GraphiQL in Chromium', () => {
  let gateway: TestGateway;
  let served: ServedGateway;
  let browser: Browser;
  let page: Page;
  let token: string;

  beforeAll(async () => {
    gateway = await startGateway();
    served = await serveOverHttp(gateway);
    token = await gateway.createKey('tenant-graphiql');
    dataOf(await gateway.execute(`mutation($m: String!) { createMemory(input: { userId: "user-graphiql", memory: $m }) { id } }`, { m: MEMORY_TEXT }, { token }));
    // A missing browser fails the test here rather than skipping it.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      timeout: 20_000,
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(15_000);
  }, 45_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await gateway?.close();
  });

  it('runs the default query with the key typed into the Headers editor, and shows the docs', async () => {
    const offline: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(new URL(served.url).origin) && !/^(data|blob):/.test(request.url())) offline.push(request.url());
    });

    await page.goto(served.url, { waitUntil: 'load' });
    await page.locator('.graphiql-execute-button').waitFor();

    // Headers tab, then replace its content as a user would: select all, type.
    await page.getByRole('button', { name: 'Headers' }).click();
    const headers = page.locator('.graphiql-editor-tool .graphiql-editor').last();
    await headers.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.type(`{"Authorization": "Bearer ${token}"}`, { delay: 5 });

    await page.locator('.graphiql-execute-button').click();
    const result = page.locator('.graphiql-response');
    await expect.poll(() => textOf(result), { timeout: 15_000 }).toContain(MEMORY_TEXT);
    expect(await textOf(result)).toContain('"backend": "LOCAL"');

    // The schema is fetched with the headers too, and the page's first attempt came before the
    // key was typed, so the user re-fetches it, as the default query's comment says.
    await page.getByRole('button', { name: /re-fetch graphql schema/i }).click();
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Query', { exact: true }).first().click();
    await expect.poll(() => textOf(docs), { timeout: 10_000 }).toContain("The tenant's memories, newest first, optionally for one user.");

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(offline).toEqual([]);
  }, 50_000);
});
