import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ChainableCommander } from 'ioredis';
import { type RedisClient, nodesOf } from './redis-client.ts';

/**
 * Lua scripts live as files with a header naming KEYS and ARGV. A line `--- @include "name"`
 * pulls in `includes/name.lua` from the same folder, so shared fragments are written once.
 * Scripts run through EVALSHA and are loaded on a NOSCRIPT reply (after a Redis restart).
 */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

export function loadLuaScript(file: string): LuaScript {
  const source = expandIncludes(file, new Set());
  return { name: file.replace(/^.*\/|\.lua$/g, ''), source, sha: createHash('sha1').update(source).digest('hex') };
}

function expandIncludes(file: string, seen: Set<string>): string {
  if (seen.has(file)) throw new Error(`circular Lua include: ${file}`);
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  return text.replace(/^--- @include "([\w-]+)"$/gm, (_line, name: string) =>
    expandIncludes(join(dirname(file), 'includes', `${name}.lua`), seen),
  );
}

type Arg = string | number | Buffer;

/** Runs a script on a client, loading it first if Redis does not know it (yet or any more). */
export async function runScript<T>(client: RedisClient, script: LuaScript, keys: string[], args: Arg[]): Promise<T> {
  // One array argument (ioredis flattens it), never a spread: a 100,000-guest event is 200,000
  // arguments, more than a function call can take (RangeError: Maximum call stack size exceeded).
  const all = [...keys, ...args.map((a) => (typeof a === 'number' ? String(a) : a))];
  try {
    return (await client.evalsha(script.sha, keys.length, all)) as T;
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    // EVAL carries the source: it cannot meet NOSCRIPT, however often the cache is flushed.
    return (await client.eval(script.source, keys.length, all)) as T;
  }
}

/** Queues a script on a pipeline (EVALSHA); use with `execPipeline`, which handles NOSCRIPT. */
export function queueScript(pipeline: ChainableCommander, script: LuaScript, keys: string[], args: Arg[]): void {
  pipeline.evalsha(script.sha, keys.length, ...keys, ...args);
}

/** SCRIPT LOAD for the scripts Redis does not have. */
export async function ensureScripts(client: RedisClient, scripts: LuaScript[]): Promise<void> {
  // Each cluster master has a script cache of its own, and EVALSHA runs on the key's master.
  await Promise.all(
    nodesOf(client, 'master').map(async (node) => {
      const exists = (await node.script('EXISTS', ...scripts.map((s) => s.sha))) as number[];
      await Promise.all(scripts.filter((_, i) => exists[i] !== 1).map((s) => node.script('LOAD', s.source)));
    }),
  );
}

export type PipelineResult = [error: Error | null, result: unknown];

/**
 * Runs one pipeline holding one or more commands per item. Items whose script Redis did not know
 * (first use, or Redis restarted and lost its script cache) are queued again after SCRIPT LOAD;
 * only those items run twice, and an EVALSHA that got NOSCRIPT never ran at all.
 */
export async function execPipeline<T>(
  client: RedisClient,
  items: readonly T[],
  queue: (pipeline: ChainableCommander, item: T) => void,
  scripts: LuaScript[],
): Promise<PipelineResult[]> {
  const run = async (subset: readonly T[]) => {
    const pipeline = client.pipeline();
    for (const item of subset) queue(pipeline, item);
    return ((await pipeline.exec()) ?? []) as PipelineResult[];
  };
  const noscript = (result: PipelineResult) => result[0]?.message.startsWith('NOSCRIPT') === true;
  let results = await run(items);
  // A SCRIPT FLUSH (or a Redis restart) can also land between the SCRIPT LOAD and the rerun: try a
  // few times, then let NOSCRIPT through (it maps to a 503, see redis-errors.ts).
  for (let attempt = 0; attempt < 3 && results.some(noscript); attempt += 1) {
    // One command per item is the rule for callers that use this retry path.
    if (results.length !== items.length) throw new Error('execPipeline: NOSCRIPT retry needs exactly one command per item');
    await ensureScripts(client, scripts);
    const again = items.filter((_, i) => noscript(results[i]!));
    const rerun = await run(again);
    let k = 0;
    results = results.map((result) => (noscript(result) ? rerun[k++]! : result));
  }
  return results;
}

export const sharedScriptDir = join(import.meta.dirname, 'lua');
