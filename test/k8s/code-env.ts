import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCommonConfig, type Role } from '../../services/shared/config/common-config.ts';
import { EnvReader } from '../../services/shared/config/env.ts';
import { repoRoot } from './tools.ts';

/** How a role reads its environment: the same calls runService makes at start. */
async function definition(role: Role) {
  if (role === 'host') return (await import('../../services/host/index.ts')).hostService;
  if (role === 'coordinator') return (await import('../../services/coordinator/index.ts')).coordinatorService;
  return (await import('../../services/guest/index.ts')).guestService;
}

export interface EnvCheck {
  /** Variables the role's configuration readers looked at. */
  read: Set<string>;
  /** What the readers refused (the process would exit 2 with these). */
  problems: string[];
}

/** Reads `env` exactly as the role does at start, without starting it. */
export async function readRoleEnv(role: Role, env: Record<string, string>): Promise<EnvCheck> {
  const def = await definition(role);
  const reader = new EnvReader(env);
  let problems: string[] = [];
  try {
    readCommonConfig(reader, role, def.streamDefaults);
    (def.readConfig as (r: EnvReader) => unknown)(reader);
    reader.done();
  } catch (error) {
    problems = (error as { problems?: string[] }).problems ?? [String(error)];
  }
  return { read: reader.read, problems };
}

/**
 * Variables some module reads straight from an environment object rather than through EnvReader
 * (tracing reads OTEL_*): every `env.NAME` / `process.env.NAME` in services/.
 */
export function directlyReadVariables(): Set<string> {
  const names = new Set<string>();
  const dir = join(repoRoot, 'services');
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  }
  return names;
}
