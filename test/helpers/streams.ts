import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { toFields } from '../../services/shared/streams/entry.ts';
import { deadLetterPattern } from '../../services/shared/streams/keys.ts';

export interface Entry {
  id: string;
  fields: Record<string, string>;
}

export async function readAll(redis: Redis, stream: string): Promise<Entry[]> {
  const raw = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
  return raw.map(([id, flat]) => ({ id, fields: toFields(flat) }));
}

/** Every dead letter in every dead-letter stream. */
export async function deadLetters(redis: Redis): Promise<Entry[]> {
  const keys = await redis.keys(deadLetterPattern);
  const all: Entry[] = [];
  for (const key of keys) {
    if ((await redis.type(key)) === 'stream') all.push(...(await readAll(redis, key)));
  }
  return all;
}

/** The invitation fields the original Python host sends (local timestamp without zone, no extras). */
export type InvitationFields = Record<string, string> & { id: string; host_id: string; event_name: string };

export function originalInvitation(overrides: Record<string, string> = {}): InvitationFields {
  return {
    id: randomUUID(),
    event_name: 'Team Building Workshop',
    event_date: '2025-02-15',
    event_time: '14:00',
    location: 'Conference Room A',
    description: 'Join us for a fun team building session with activities and lunch!',
    host_name: 'Sarah Johnson',
    host_id: 'host_001',
    timestamp: '2025-01-20T10:30:00.123456',
    ...overrides,
  };
}

export function flat(fields: Record<string, string>): string[] {
  return Object.entries(fields).flat();
}

/** Total pending entries of a group (0 when the stream or group does not exist). */
export async function pendingCount(redis: Redis, stream: string, group: string): Promise<number> {
  try {
    const [count] = (await redis.xpending(stream, group)) as [number];
    return Number(count);
  } catch {
    return 0;
  }
}
