// Serves the web page (built by `npm run build` into build/ beside this module; scripts/build.ts
// copies it to the same place under dist/ for the image). A Fastify plugin, registered by the host
// with one line; it adds no API route.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where the Vite build lands, relative to this module (source or compiled). */
export const webBuildDir = join(import.meta.dirname, 'build');

/** The page's own paths (src/lib/routes.ts): a reload or a shared link on one of them gets the page. */
export const clientRoutes = ['/events', '/events/new', '/events/:id', '/events/:id/edit', '/flow', '/guests'] as const;

export interface WebPageOptions {
  /** The build folder; the default is the one beside this module. */
  root?: string;
}

// File names under assets/ carry a content hash (Vite): they never change, so a browser keeps them
// for a year. Everything else (index.html, favicon) is revalidated on every load, so a new image
// is picked up by the next reload.
function cacheHeaders(reply: FastifyReply, path: string): void {
  const immutable = /[\\/]assets[\\/][^\\/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(path);
  reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
}

// The page's paths are not part of the API: kept out of /openapi.json (as @fastify/static keeps its files).
const pageRoute = { schema: { hide: true } };

/** The web page at `/`, its hashed assets, and the page again for its client-side routes. */
export async function webPage(app: FastifyInstance, opts: WebPageOptions = {}): Promise<void> {
  const root = opts.root ?? webBuildDir;
  if (!existsSync(join(root, 'index.html'))) {
    // The API works without the page (a checkout that never ran the build): say so at `/`.
    app.log.warn({ root }, 'web page not built: run `npm run build` to serve it at /');
    const notBuilt = (_: unknown, reply: FastifyReply) =>
      reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send('<!doctype html><html lang="en"><title>event-planner</title><p>The web page has not been built: run <code>npm run build</code>, then restart the host.</p></html>');
    for (const route of ['/', ...clientRoutes]) app.get(route, pageRoute, notBuilt);
    return;
  }
  // wildcard: false registers one route per file present now (the build is immutable once the
  // host runs), so an unknown path still reaches the host's JSON 404 instead of a file lookup.
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    etag: true,
    lastModified: true,
    setHeaders: cacheHeaders,
  });
  for (const route of clientRoutes) {
    app.get(route, pageRoute, (_request, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false }));
  }
}
