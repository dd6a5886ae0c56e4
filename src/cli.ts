import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { createApiKey, listApiKeys, revokeApiKey } from './auth/api-keys.js';
import { ConfigError, loadConfig } from './config.js';
import { createPrisma } from './db.js';
import { PROVIDER_SETTINGS } from './backends/settings.js';
import { migrateDatabase, pendingMigrations } from './migrate.js';
import { publicKeyForVerifying, verifyReceipt } from './privacy/receipts.js';
import { describeTenant, resealLegacySettings, setTenant } from './tenants.js';
import type { PrismaClient } from './generated/prisma/client.js';

/** Opens the configured database (migrating it first, so the CLI works before the first start). */
async function withDatabase<T>(run: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let prisma = await createPrisma(config);
  if ((await pendingMigrations(config, prisma)).length > 0) {
    // Prisma's migration engine wants the SQLite file to itself.
    await prisma.$disconnect();
    await migrateDatabase(config);
    prisma = await createPrisma(config);
  }
  try {
    if (config.gatewaySecret) await resealLegacySettings(prisma, config.gatewaySecret);
    return await run(prisma);
  } finally {
    await prisma.$disconnect();
  }
}

export function buildCli(): Command {
  const program = new Command('memory-gateway')
    .description('Administer a memory-gateway: API keys, tenants and forget receipts. Uses DATABASE_URL like the server.')
    // Set before the subcommands are added, which inherit it. A usage error is one line like any
    // other error; the help that commander would print to stderr when a command is missing is
    // replaced by one line in runCli. `--help` still prints the help, to stdout.
    .configureOutput({ outputError: (message) => process.stderr.write(oneLine(message)), writeErr: () => {} })
    // Errors are thrown to runCli instead of exiting, by the subcommands too.
    .exitOverride();

  const keys = program.command('keys').description('Tenant API keys');

  keys
    .command('create')
    .description('Create an API key for a tenant (the tenant is created if new). The key is printed once.')
    .requiredOption('--tenant <id>', 'tenant id, e.g. acme')
    .option('--label <text>', 'a note to recognise the key by')
    .option('--json', 'print {"key","tenant","id"} as JSON')
    .action(async (options: { tenant: string; label?: string; json?: boolean }) => {
      const issued = await withDatabase((prisma) => createApiKey(prisma, options.tenant, options.label));
      if (options.json) {
        console.log(JSON.stringify({ key: issued.key, tenant: issued.tenant, id: issued.id }));
      } else {
        console.log(`API key for tenant "${issued.tenant}" (id ${issued.id}); it is shown only once:\n\n  ${issued.key}\n`);
        console.log(`Use it as:  Authorization: Bearer ${issued.key}`);
        console.log(`Revoke it:  npx memory-gateway keys revoke ${issued.id}`);
      }
    });

  keys
    .command('revoke')
    .description('Revoke an API key by its id; requests with it then get UNAUTHENTICATED')
    .argument('<key-id>', 'the id printed by keys create (also the part after "mgw_" in the key)')
    .action(async (keyId: string) => {
      const revoked = await withDatabase((prisma) => revokeApiKey(prisma, keyId));
      if (!revoked) throw new CliError(`No active key with id ${keyId}`);
      console.log(`Revoked key ${keyId}`);
    });

  keys
    .command('list')
    .description('List API keys (ids and state, never the keys)')
    .option('--tenant <id>', 'only this tenant')
    .option('--json', 'print JSON')
    .action(async (options: { tenant?: string; json?: boolean }) => {
      const rows = await withDatabase((prisma) => listApiKeys(prisma, options.tenant));
      if (options.json) {
        console.log(JSON.stringify(rows));
        return;
      }
      if (rows.length === 0) console.log('No keys.');
      for (const row of rows) {
        const state = row.revokedAt ? `revoked ${row.revokedAt.toISOString()}` : 'active';
        console.log(`${row.id}  tenant=${row.tenantId}  ${state}  created ${row.createdAt.toISOString()}${row.label ? `  "${row.label}"` : ''}`);
      }
    });

  const tenants = program.command('tenants').description('Per-tenant routing and upstream settings');

  const set = tenants
    .command('set')
    .description(
      'Route a tenant\'s families to backends and store its upstream settings (encrypted with GATEWAY_SECRET; never printed back). ' +
        'Pass an empty value (--mielto-api-key "") to remove a setting.',
    )
    .argument('<id>', 'tenant id')
    .option('--user-events <backend>', 'local | memobase')
    .option('--user-memories <backend>', 'local | datagrid | cortex')
    .option('--memories <backend>', 'local | mielto')
    .option('--jwt-issuer <iss>', "the tenant's own end-user token issuer: only its tokens may name the tenant")
    .option('--jwt-jwks-url <url>', "where that issuer's keys are (default <iss>/.well-known/jwks.json)")
    .option('--jwt-audience <aud>', 'the audience its tokens must carry')
    .option('--json', 'print the result as JSON');
  for (const [provider, names] of Object.entries(PROVIDER_SETTINGS)) {
    for (const name of names) set.option(`--${provider}-${kebab(name)} <value>`, SETTING_HELP[`${provider}.${name}`] ?? `${provider} ${name} for this tenant`);
  }
  set.action(async (id: string, options: Record<string, string | boolean | undefined>) => {
    const settings: Record<string, string> = {};
    for (const [provider, names] of Object.entries(PROVIDER_SETTINGS)) {
      for (const name of names) {
        const value = options[camel(`${provider}-${kebab(name)}`)];
        if (typeof value === 'string') settings[`${provider}.${name}`] = value;
      }
    }
    const config = loadConfig();
    const result = await withDatabase((prisma) =>
      setTenant(prisma, config, id, {
        userEvents: options.userEvents as string | undefined,
        userMemories: options.userMemories as string | undefined,
        memories: options.memories as string | undefined,
        settings,
        jwt: {
          issuer: options.jwtIssuer as string | undefined,
          jwksUrl: options.jwtJwksUrl as string | undefined,
          audience: options.jwtAudience as string | undefined,
        },
      }),
    );
    printTenant(result, Boolean(options.json));
  });

  tenants
    .command('show')
    .description('Show a tenant\'s routing and the names of its stored settings')
    .argument('<id>', 'tenant id')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const config = loadConfig();
      const result = await withDatabase((prisma) => describeTenant(prisma, config, id));
      if (!result) throw new CliError(`No tenant ${id}`);
      printTenant(result, Boolean(options.json));
    });

  program
    .command('receipts')
    .description('Forget receipts')
    .command('verify')
    .description("Check a forget receipt (JSON as forgetUserReceipt returns it) against the gateway's published key; exit 0 when the signature holds, 1 when not")
    .argument('<file>', 'the receipt as JSON (the receipt object, or the whole GraphQL response)')
    .option('--public-key <file>', "a PEM public key (receiptSigningKey { publicKeyPem }) instead of the gateway's own; no database is opened")
    .action(async (file: string, options: { publicKey?: string }) => {
      const document = parseJson(readText(file, 'receipt'), file);
      const publicKeyPem = options.publicKey
        ? readText(options.publicKey, 'public key')
        : await withDatabase((prisma) => publicKeyForVerifying(prisma, loadConfig().receiptSigningKey));
      const verdict = verifyReceipt(document, publicKeyPem);
      if (!verdict.valid) throw new CliError(`receipt is NOT valid: ${verdict.reason}`);
      // A dry run is signed too (it proves what was counted), so it must never read like a deletion.
      const what = verdict.dryRun ? `${verdict.status}, DRY RUN: nothing was deleted` : verdict.status;
      console.log(`valid: receipt ${verdict.receiptId} (${what}) for user ${JSON.stringify(verdict.userId)} of tenant ${JSON.stringify(verdict.tenant)} is signed by key ${verdict.keyId}`);
    });

  return program;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not JSON`);
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`cannot read the ${what} file ${file}`);
  }
}

function printTenant(tenant: Awaited<ReturnType<typeof describeTenant>>, json: boolean) {
  if (!tenant) return;
  if (json) {
    console.log(JSON.stringify(tenant));
    return;
  }
  const source = (family: keyof typeof tenant.routingSource) =>
    tenant.routingSource[family] === 'tenant' ? 'tenant setting' : 'environment default';
  console.log(`tenant ${tenant.id}`);
  console.log(`  user events:   ${tenant.routing.userEvents} (${source('userEvents')})`);
  console.log(`  user memories: ${tenant.routing.userMemories} (${source('userMemories')})`);
  console.log(`  memories:      ${tenant.routing.memories} (${source('memories')})`);
  console.log(`  settings:      ${tenant.settings.length ? tenant.settings.join(', ') : '(none)'}`);
  console.log(`  jwt issuer:    ${tenant.jwtIssuer ?? '(gateway-wide JWT_SECRET / JWT_JWKS_URL)'}`);
  if (tenant.jwtIssuer) {
    console.log(`    keys:        ${tenant.jwtJwksUrl ?? '(<issuer>/.well-known/jwks.json)'}`);
    console.log(`    audience:    ${tenant.jwtAudience ?? '(any)'}`);
  }
  console.log(`  scopes held:   ${tenant.scopes.length ? tenant.scopes.join('; ') : '(none yet: claimed on first use)'}`);
  console.log(`  active keys:   ${tenant.activeKeys}`);
}

const SETTING_HELP: Record<string, string> = {
  'mielto.workspaces': 'comma-separated Mielto workspaces, besides its own, that requests may name with workspaceId',
};

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export class CliError extends Error {}

/** One line ending in a newline: commander's suggestions and multi-problem messages come on several. */
function oneLine(message: string, separator = ' '): string {
  return `${message.split('\n').map((part) => part.trim()).filter(Boolean).join(separator)}\n`;
}

/** The one line for a command given without its subcommand (`memory-gateway keys`). */
function missingCommand(program: Command, args: string[]): string {
  let command = program;
  const path = [program.name()];
  for (const arg of args) {
    const next = command.commands.find((c) => c.name() === arg);
    if (!next) break;
    command = next;
    path.push(arg);
  }
  const names = command.commands.map((c) => c.name()).join(', ');
  return `error: ${path.join(' ')} needs a command (${names}); see ${path.join(' ')} --help`;
}

/**
 * Runs the CLI; returns the process exit code. Every error, usage errors included, is one line
 * on stderr starting with "error:"; never a stack.
 */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own one-line message, except for a missing subcommand.
      if (error.code === 'commander.help' && error.exitCode !== 0) process.stderr.write(oneLine(missingCommand(program, argv.slice(2))));
      return error.exitCode;
    }
    let message = error instanceof Error ? error.message : String(error);
    if (error instanceof ConfigError) message = `invalid configuration: ${error.problems.join('; ')}`;
    process.stderr.write(oneLine(`error: ${message}`, '; '));
    return 1;
  }
}
