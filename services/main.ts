// Starts one role by name: `node services/main.ts <host|coordinator|guest>` (or ROLE=...).
// One entry point and one image for every role; the role is chosen at start.
import { roles, type Role } from './shared/config/common-config.ts';
import { loadDotEnv } from './shared/config/env.ts';

// Before anything reads the environment: tracing below reads OTEL_* too.
loadDotEnv();

const role = (process.argv[2] ?? process.env.ROLE ?? '') as Role;
if (!roles.includes(role)) {
  process.stderr.write(`usage: node services/main.ts <${roles.join('|')}>  (or set ROLE); got ${JSON.stringify(role)}\n`);
  process.exit(2);
}

// Tracing must be set up before the modules it instruments (ioredis, fastify) are loaded.
const { startTracing } = await import('./shared/telemetry/tracing.ts');
await startTracing(role);
const { runService } = await import('./shared/service/run-service.ts');
const definitions = {
  host: async () => (await import('./host/index.ts')).hostService,
  coordinator: async () => (await import('./coordinator/index.ts')).coordinatorService,
  guest: async () => (await import('./guest/index.ts')).guestService,
} as const;
await runService((await definitions[role]()) as Parameters<typeof runService>[0]);
