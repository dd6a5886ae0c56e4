import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { dataOf, type TestGateway } from './gateway.js';

export const RECEIPT_FIELDS = `id userId dryRun status actor requestedAt finishedAt
  parts { family backend status found deleted failed attempts verifiedAbsent error }
  signature signedPayload`;

export const FORGET = `mutation($u: String!, $dry: Boolean) { forgetUser(userId: $u, dryRun: $dry) { ${RECEIPT_FIELDS} } }`;
export const RECEIPT = `query($id: ID!) { forgetUserReceipt(id: $id) { ${RECEIPT_FIELDS} } }`;

export interface Receipt {
  id: string;
  userId: string;
  dryRun: boolean;
  status: string;
  actor: string;
  requestedAt: string;
  finishedAt: string | null;
  parts: { family: string; backend: string; status: string; found: number; deleted: number; failed: number; attempts: number; verifiedAbsent: boolean; error: string | null }[];
  signature: string | null;
  signedPayload: string | null;
}

/** Polls `forgetUserReceipt` as a client would, until the receipt is final. */
export async function finalReceipt(
  request: (query: string, variables: Record<string, unknown>) => Promise<{ data?: any; errors?: unknown }>,
  id: string,
  timeoutMs = 60_000,
): Promise<Receipt> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const body = await request(RECEIPT, { id });
    const receipt = body.data?.forgetUserReceipt as Receipt | null | undefined;
    if (!receipt) throw new Error(`no receipt ${id}: ${JSON.stringify(body)}`);
    if (receipt.status !== 'RUNNING') return receipt;
    if (Date.now() > until) throw new Error(`receipt ${id} still RUNNING after ${timeoutMs} ms: ${JSON.stringify(receipt)}`);
    await sleep(100);
  }
}

/** A test gateway's request function for `finalReceipt`. */
export const through = (gateway: TestGateway, token: string) => async (query: string, variables: Record<string, unknown>) =>
  (await gateway.execute(query, variables, { token })).body;

/** Forgets a user through the API and waits for the final receipt. */
export async function forget(gateway: TestGateway, token: string, userId: string, dryRun = false): Promise<Receipt> {
  const first = dataOf(await gateway.execute<{ forgetUser: Receipt }>(FORGET, { u: userId, dry: dryRun }, { token })).forgetUser;
  return finalReceipt(through(gateway, token), first.id);
}

export const partOf = (receipt: Receipt, family: string) => receipt.parts.find((p) => p.family === family)!;

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `memory-gateway receipts verify <file>` as a user runs it (the CLI's code through tsx, so no
 * build is needed), against the database the gateway uses.
 */
export function verifyWithCli(databaseUrl: string, receipt: unknown, dir: string, extraArgs: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(dir, `receipt-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(receipt, null, 2));
  const script = "import { runCli } from './src/cli.ts'; process.exitCode = await runCli(['node', 'memory-gateway', ...process.argv.slice(1)]);";
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, 'receipts', 'verify', file, ...extraArgs],
      { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}
