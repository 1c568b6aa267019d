// The host's web-page plugin over real HTTP: the page at / and on every client route, hashed
// assets cached for a year, everything else revalidated, unknown paths still the JSON 404.
import { get } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { clientRoutes, webPage } from '../../services/host/web/serve.ts';
import { answerErrors } from '../../services/shared/http/errors.ts';

let app: FastifyInstance | undefined;
let dir: string | undefined;

afterEach(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  app = undefined;
  dir = undefined;
});

async function serve(files: Record<string, string>): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'web-build-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  app = Fastify({ logger: false });
  answerErrors(app);
  await app.register(webPage, { root: dir });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

describe('the web page plugin', () => {
  const page = '<!doctype html><title>page</title><script src="/assets/index-AbCd1234.js"></script>';

  it('serves the page at / and on every client route, revalidated on each load', async () => {
    const base = await serve({ 'index.html': page, 'assets/index-AbCd1234.js': 'console.log(1)', 'assets/index-Zz9_8-yY.css': 'a{}' });
    for (const path of ['/', ...clientRoutes.map((r) => r.replace(':id', 'some-event'))]) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
      expect(await res.text(), path).toBe(page);
    }
  });

  it('caches hashed assets for a year and answers a revalidation with 304', async () => {
    const base = await serve({ 'index.html': page, 'assets/index-AbCd1234.js': 'console.log(1)', 'robots.txt': 'User-agent: *' });
    const js = await fetch(`${base}/assets/index-AbCd1234.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // node:http, not fetch: fetch adds Cache-Control: no-cache to a conditional request (as the Fetch standard says).
    const again = await new Promise<number | undefined>((resolve, reject) =>
      get(`${base}/assets/index-AbCd1234.js`, { headers: { 'if-none-match': js.headers.get('etag')! } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject),
    );
    expect(again).toBe(304);
    expect((await fetch(`${base}/robots.txt`)).headers.get('cache-control')).toBe('no-cache');
  });

  it('leaves unknown paths to the JSON 404, API paths included', async () => {
    const base = await serve({ 'index.html': page });
    for (const path of ['/assets/missing-12345678.js', '/api/nothing', '/events/a/b/c']) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ code: 'not_found' });
    }
  });

  it('says how to build the page when it was not built', async () => {
    const base = await serve({});
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
    expect((await fetch(`${base}/flow`)).status).toBe(503);
  });
});
