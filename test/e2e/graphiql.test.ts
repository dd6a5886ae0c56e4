import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { serveOverHttp, type ServedGateway } from '../helpers/http-server.js';

/**
 * GraphiQL as a newcomer meets it: the real server over HTTP, a real Chromium with nothing
 * stored, the Docs explorer opened before any key exists, the key pasted into the Headers editor,
 * the starter query run. GraphiQL's code is served
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

  it('opens as a newcomer meets it: Docs filled with no key, the placeholder header sent without error, then the starter query runs after pasting a key', async () => {
    const offline: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(new URL(served.url).origin) && !/^(data|blob):/.test(request.url())) offline.push(request.url());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });

    // First visit: nothing in local storage, no key anywhere.
    await page.goto(served.url, { waitUntil: 'load' });
    await page.locator('.graphiql-execute-button').waitFor();

    // The Docs panel fills from the introspection GraphiQL sends with its placeholder header.
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Query', { exact: true }).first().click();
    await expect.poll(() => textOf(docs), { timeout: 15_000 }).toContain("The tenant's memories, newest first, optionally for one user.");

    // The Headers tab holds the placeholder the starter query's comment talks about.
    await page.getByRole('button', { name: 'Headers' }).click();
    const headers = page.locator('.graphiql-editor-tool .graphiql-editor').last();
    expect(await textOf(headers)).toContain('Bearer YOUR_API_KEY');
    expect(await textOf(page.locator('.graphiql-query-editor'))).toContain('replace YOUR_API_KEY');

    // Paste the key over the placeholder's text, as a user would: select all, type.
    await headers.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.type(`{"Authorization": "Bearer ${token}"}`, { delay: 5 });

    await page.locator('.graphiql-execute-button').click();
    const result = page.locator('.graphiql-response');
    // The result pane is narrow while the Docs panel is open: read it with its wrapping undone.
    const resultText = async () => (await textOf(result)).replace(/\s+/g, ' ');
    await expect.poll(resultText, { timeout: 15_000 }).toContain(MEMORY_TEXT);
    expect(await resultText()).toContain('"backend": "LOCAL"');

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(offline).toEqual([]);
    // No "non ISO-8859-1 code point" refusal, no "Error fetching schema", nothing else red.
    expect(problems).toEqual([]);
  }, 50_000);
});
