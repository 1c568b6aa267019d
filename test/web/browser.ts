/// <reference lib="dom" />
// Code passed to page.evaluate runs in the browser: the DOM types are for it.
// A real Chromium for the page's tests: Debian's /usr/bin/chromium driven by playwright-core,
// headless, no sandbox (containers), an empty profile, and no network but loopback: every request
// to anywhere else is refused and recorded, so a CDN or a web font would fail the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { buildWebPage, webPageStale } from '../../services/host/web/build-page.ts';

/** Builds the page when its build is missing or older than its sources (what `npm run build` does for it). */
export function ensureWebBuild(): void {
  if (webPageStale()) buildWebPage();
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** console errors and uncaught exceptions of every page. */
  consoleErrors: string[];
  /** Requests to anything but loopback (refused). */
  offsiteRequests: string[];
  /** Takes out the one console error a step provoked on purpose (Chromium logs every 4xx response); fails if there is none. */
  expectConsoleError(pattern: RegExp): void;
  close(): Promise<void>;
}

export async function launchBrowser(executablePath: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'ep-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--no-first-run',
      '--no-proxy-server',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
      // Names resolve to nothing but loopback: the page must not need the internet.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    timezoneId: 'UTC',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  const consoleErrors: string[] = [];
  const offsiteRequests: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
    offsiteRequests.push(url.href);
    return route.abort('blockedbyclient');
  });
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}${m.location().url ? ` (${m.location().url})` : ''}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: uncaught ${e.message}`));
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  return {
    context,
    page,
    consoleErrors,
    offsiteRequests,
    expectConsoleError: (pattern) => {
      const i = consoleErrors.findIndex((e) => pattern.test(e));
      if (i < 0) throw new Error(`expected a console error matching ${pattern}; got ${JSON.stringify(consoleErrors)}`);
      consoleErrors.splice(i, 1);
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * What a screenshot shows, measured in the browser itself (no image library): the standard deviation
 * of its luminance and how many distinct colours it has. A blank or single-colour page scores ~0.
 */
export async function imageStats(context: BrowserContext, png: Buffer): Promise<{ width: number; height: number; stddev: number; colours: number }> {
  const page = await context.newPage();
  try {
    await page.goto('about:blank');
    return await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const g = canvas.getContext('2d')!;
      g.drawImage(bitmap, 0, 0);
      const data = g.getImageData(0, 0, bitmap.width, bitmap.height).data;
      let sum = 0;
      let sq = 0;
      const colours = new Set<number>();
      const n = data.length / 4;
      for (let i = 0; i < data.length; i += 4) {
        const y = 0.2126 * data[i]! + 0.7152 * data[i + 1]! + 0.0722 * data[i + 2]!;
        sum += y;
        sq += y * y;
        if (colours.size < 5000) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      }
      const mean = sum / n;
      return { width: bitmap.width, height: bitmap.height, stddev: Math.sqrt(Math.max(0, sq / n - mean * mean)), colours: colours.size };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

/** axe-core in the page: the violations of impact serious or critical. */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  const axe = createRequire(import.meta.url)('axe-core') as { source: string };
  // Evaluated through the DevTools protocol, not as an inline <script>: the page's Content Security
  // Policy (script-src 'self') rightly refuses those, and the test must not weaken it.
  await page.evaluate((source) => (0, eval)(source), axe.source);
  const result = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } };
    return w.axe.run(document, { resultTypes: ['violations'] });
  });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
}
