import type { FastifyInstance } from 'fastify';
import { GuestRegistry } from '../../shared/registry/guest-registry.ts';
import { registryKeys } from '../../shared/streams/keys.ts';
import type { PartsGetter } from '../parts.ts';
import { errors } from './schemas.ts';

const guestItem = {
  type: 'object',
  required: ['guest_id', 'name', 'persona', 'group', 'tags', 'agent', 'live'],
  properties: {
    guest_id: { type: 'string' },
    name: { type: 'string' },
    persona: { type: 'string' },
    group: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    agent: { type: 'string' },
    live: { type: 'boolean' },
    last_seen: { type: 'integer', description: 'Last heartbeat of the guest’s agent (ms).' },
  },
} as const;

const groupItem = {
  type: 'object',
  required: ['group', 'live', 'total', 'scale_hint'],
  properties: { group: { type: 'string' }, live: { type: 'integer' }, total: { type: 'integer' }, scale_hint: { type: 'string' } },
} as const;

/** Registered agents read per round trip. */
const CHUNK = 200;

/** GET /api/guests: the registry (services/shared/registry), every guest with its agent's liveness. */
export function guestRoutes(app: FastifyInstance, parts: PartsGetter): void {
  app.get(
    '/api/guests',
    {
      config: { access: 'operations' },
      schema: {
        tags: ['operations'],
        summary: 'Every registered guest with persona, group, tags, agent and liveness; guests per persona group',
        response: { 200: { type: 'object', required: ['guests', 'groups'], properties: { guests: { type: 'array', items: guestItem }, groups: { type: 'array', items: groupItem } } }, ...errors(503) },
      },
    },
    async () => {
      const p = parts();
      const now = Date.now();
      const raw = await p.redis.zrange(registryKeys.agents, 0, -1, 'WITHSCORES');
      const agents: { id: string; seen: number }[] = [];
      for (let i = 0; i < raw.length; i += 2) agents.push({ id: raw[i]!, seen: Number(raw[i + 1]) });
      const guests: Record<string, unknown>[] = [];
      const groups = new Map<string, { live: number; total: number }>();
      // The registry's own reader: an agent of many guests is read in bounded steps, and as one
      // registration (not half of an old one and half of a new one).
      const registry = new GuestRegistry(p.redis);
      for (let start = 0; start < agents.length; start += CHUNK) {
        const chunk = agents.slice(start, start + CHUNK);
        const read = await registry.guestsOf(chunk.map((a) => a.id));
        chunk.forEach((agent, i) => {
          const { group, guests: registered } = read[i]!;
          const live = now - agent.seen <= p.guestTtlMs;
          const tally = groups.get(group) ?? { live: 0, total: 0 };
          for (const g of registered) {
            guests.push({ guest_id: g.id, name: g.name, persona: g.persona, group, tags: g.tags, agent: agent.id, live, last_seen: agent.seen });
            tally.total += 1;
            if (live) tally.live += 1;
          }
          groups.set(group, tally);
        });
      }
      guests.sort((a, b) => String(a.name).localeCompare(String(b.name)) || String(a.guest_id).localeCompare(String(b.guest_id)));
      const release = p.config.releaseName;
      return {
        guests,
        groups: [...groups.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([group, t]) => ({ group, ...t, scale_hint: `kubectl scale deployment/${release}-guest-${group || 'default'} --replicas=N` })),
      };
    },
  );
}
