import type { FastifyInstance } from 'fastify';
import type { PartsGetter } from '../parts.ts';
import { errors, streamStat } from './schemas.ts';

/** GET /api/streams: what an operator looks at first (docs/API.md, "Operator views"). */
export function streamRoutes(app: FastifyInstance, parts: PartsGetter): void {
  app.get(
    '/api/streams',
    {
      config: { access: 'operations' },
      schema: {
        tags: ['operations'],
        summary: 'Length, groups (consumers, lag, pending, oldest pending), dead letters and rate of every stream',
        response: { 200: { type: 'object', required: ['streams'], properties: { streams: { type: 'array', items: streamStat } } }, ...errors(503) },
      },
    },
    async () => ({ streams: await parts().stats.collect() }),
  );
}
