/// <reference lib="dom" />
// Code passed to page.evaluate runs in the browser: the DOM types are for it.
// The web page in a real Chromium against the real stack (redis-server, host, coordinator, guest
// processes): an event created through the form, its guests' rows switching live, the summary,
// an update (rows back to needs action), the cancellation; the API's 400 beside its field; the
// banner while the host is away; accessibility (axe-core) and screenshots at phone and laptop width.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { needTools, repoRoot } from '../k8s/tools.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { useRedisStack } from '../helpers/stack.ts';
import { tokenFor, withAuth } from '../helpers/auth.ts';
import { type Browser, ensureWebBuild, imageStats, launchBrowser, seriousA11yViolations } from './browser.ts';

const ctx = useRedisStack();
const results = join(repoRoot, 'test-results');

// Four guests whose answers are certain (followLikely 1, every question answered), each after
// 4-5.5 s (long enough to see the rows wait at "needs action" first, on a busy machine too); Yuri
// accepts last, when Ada holds the only seat.
const always = { followLikely: 1, answers: { skipOptional: 0 } };
const personas = JSON.stringify([
  { name: 'Ada Yes', likely: 'yes', ...always, delayMs: [4000, 5500], plusOnes: { rate: 0 } },
  { name: 'Nils No', likely: 'no', ...always, delayMs: [4000, 5500] },
  { name: 'Tess Maybe', likely: 'maybe', ...always, delayMs: [4000, 5500] },
  { name: 'Yuri Yes', likely: 'yes', ...always, delayMs: [7500, 8000], plusOnes: { rate: 0 } },
]);

let browser: Browser | undefined;

afterEach(async (t) => {
  // A failure leaves what the page showed beside the screenshots.
  if (browser && t.task.result?.state === 'fail') {
    mkdirSync(results, { recursive: true });
    await browser.page.screenshot({ path: join(results, 'failure.png'), fullPage: true }).catch(() => undefined);
    writeFileSync(join(results, 'failure.txt'), `${browser.page.url()}\n${await browser.page.innerText('body').catch(String)}\nconsole: ${browser.consoleErrors.join('\n')}\n`);
  }
  await browser?.close();
  browser = undefined;
});

async function stack(): Promise<RoleProcess> {
  await ctx.procs.coordinator();
  await ctx.procs.guests({ GUESTS_PER_AGENT: '4', PERSONAS: personas, PERSONA_GROUP: 'testers', GUEST_SEED: 'page', REPLY_DELAY_SCALE: '1', GUEST_AGENT_ID: 'agent-page' });
  return ctx.procs.host({ ...withAuth, HOST_ID: 'page-host', DEFAULT_TIMEZONE: 'UTC' });
}

const rowState = (page: Page, name: string) => page.locator('tr[data-guest]', { hasText: name });

/** Waits until the rows of these guests (by id prefix: `ada-yes` is Ada Yes) show these states. */
async function expectStates(page: Page, states: Record<string, string>, timeout = 20_000): Promise<void> {
  for (const [guest, state] of Object.entries(states)) {
    await page.waitForFunction(
      ([g, s]) => [...document.querySelectorAll('tr[data-guest]')].some((tr) => tr.getAttribute('data-guest')!.startsWith(`${g}.`) && tr.getAttribute('data-state') === s),
      [guest, state],
      { timeout },
    );
  }
}

/** At this width, nothing is wider than the viewport but the tables' own scrolling boxes. */
async function fitsWidth(page: Page, width: number): Promise<void> {
  const before = page.viewportSize();
  await page.setViewportSize({ width, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth), `${page.url()} at ${width} px`).toBeLessThanOrEqual(width);
  if (before) await page.setViewportSize(before);
}

async function screenshot(page: Page, name: string, width: number): Promise<Buffer> {
  await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
  await page.waitForTimeout(150);
  mkdirSync(results, { recursive: true });
  const png = await page.screenshot({ fullPage: true });
  writeFileSync(join(results, `${name}-${width}.png`), png);
  return png;
}

describe('the web page in a real browser', () => {
  let chromiumPath = '';
  beforeAll(() => {
    ensureWebBuild();
  }, 120_000);

  it('creates an event through the form and follows it live to its summary, an update and the cancellation', async (t) => {
    chromiumPath = needTools(t, ['chromium']).chromium;
    const host = await stack();
    browser = await launchBrowser(chromiumPath);
    const { page } = browser;
    await page.goto(host.url('/'));
    // Signing in: the API needs a token; a bad one is refused with the host's reason beside the field.
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in');
    // Keyboard: the first Tab reaches the skip link, with a visible focus ring.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
    expect(await seriousA11yViolations(page)).toEqual([]);
    const tokenField = page.getByLabel('Token', { exact: true });
    await tokenField.fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => tokenField.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.sign-in .error').textContent()).toMatch(/not valid/);
    browser.expectConsoleError(/status of 401 .*\/api\/session\)$/);
    await tokenField.fill(await tokenFor('admin', 'page-admin'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Events');
    expect(await page.locator('.who').textContent()).toMatch(/page-admin \(admin\)/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main'); // focus moved to the view

    // The guests have registered: the roster shows their group and how to scale it.
    await page.getByRole('link', { name: 'Guests' }).click();
    await page.getByText('kubectl scale deployment/').first().waitFor();
    await page.getByRole('rowheader', { name: /Tess Maybe/ }).waitFor();

    // The form: a start in the past is refused by the API, its message shown beside the date.
    await page.getByRole('link', { name: 'New event' }).first().click();
    await page.getByLabel('Name', { exact: true }).waitFor();
    expect(await seriousA11yViolations(page)).toEqual([]);
    await fitsWidth(page, 390);
    await page.getByLabel('Name', { exact: true }).fill('Browser launch party');
    await page.getByLabel('Date', { exact: true }).fill('2020-01-01');
    await page.getByLabel('Location').fill('Rooftop');
    await page.getByLabel('Reminders (minutes before the deadline)').fill('1');
    await page.getByLabel('Capacity (headcount)').fill('1');
    await page.getByLabel('Plus-ones per guest').fill('1');
    await page.getByRole('button', { name: 'Ask about dietary needs' }).click();
    await page.getByRole('button', { name: 'Create event' }).click();
    const date = page.getByLabel('Date', { exact: true });
    await expect.poll(() => date.getAttribute('aria-invalid')).toBe('true');
    const described = (await date.getAttribute('aria-describedby'))!.split(' ')[0]!;
    expect(await page.locator(`[id="${described}"]`).textContent()).toMatch(/2020-01-01.*before/);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('event_date');
    browser.expectConsoleError(/status of 400 .*\/api\/events\)$/);

    const inTwoWeeks = new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10);
    await date.fill(inTwoWeeks);
    await page.getByLabel('Location').press('Enter'); // submitted from the keyboard

    // The board: a row per guest, first waiting, then switching live as the replies arrive.
    await page.getByTestId('board').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Browser launch party');
    const boardUrl = page.url();
    await expectStates(page, { 'ada-yes': 'needs_action', 'nils-no': 'needs_action', 'tess-maybe': 'needs_action', 'yuri-yes': 'needs_action' });
    await expectStates(page, { 'ada-yes': 'accepted', 'nils-no': 'declined', 'tess-maybe': 'tentative', 'yuri-yes': 'waitlisted' });
    expect(page.url()).toBe(boardUrl); // live, not reloaded
    await page.getByTestId('summary').first().waitFor({ timeout: 20_000 });
    const summary = await page.getByTestId('summary').first().textContent();
    expect(summary).toMatch(/all replied/);
    expect(summary).toMatch(/4 invited, 4 replied: 2 yes, 1 no, 1 maybe; headcount 1, 1 waitlisted/);
    expect(summary).toMatch(/dietary: /);
    await expect.poll(() => page.locator('[data-count=headcount] dd').textContent()).toBe('1');
    await expect.poll(() => page.locator('[data-count=waitlisted] dd').textContent()).toBe('1');
    await expect.poll(() => page.locator('[data-count=declined] dd').textContent()).toBe('1');
    await expect.poll(() => page.locator('[data-count=tentative] dd').textContent()).toBe('1');

    // Accessibility and screenshots of the board at phone and laptop width.
    expect(await seriousA11yViolations(page)).toEqual([]);
    for (const width of [390, 1280]) {
      const png = await screenshot(page, 'board', width);
      const stats = await imageStats(browser.context, png);
      expect(stats.width).toBe(width);
      expect(stats.stddev, `board at ${width} px looks blank`).toBeGreaterThan(15);
      expect(stats.colours).toBeGreaterThan(20);
      expect(await page.getByTestId('board').isVisible()).toBe(true);
      expect(await rowState(page, 'Ada Yes').isVisible()).toBe(true);
      await fitsWidth(page, width);
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    // The message flow shows the traffic with the streams' figures.
    await page.getByRole('link', { name: 'Message flow' }).click();
    await page.locator('table.streams code', { hasText: 'event_invitations' }).first().waitFor({ timeout: 10_000 });
    expect(await seriousA11yViolations(page)).toEqual([]);
    await fitsWidth(page, 390);
    await screenshot(page, 'flow', 1280);
    await page.goBack();
    await page.getByTestId('board').waitFor();

    // An update that moves the event: a new version, every guest asked again.
    await page.getByRole('link', { name: 'Update event' }).click();
    await page.getByLabel('Location').fill('Garden');
    expect(await seriousA11yViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByTestId('board').waitFor();
    await expectStates(page, { 'ada-yes': 'needs_action', 'nils-no': 'needs_action', 'tess-maybe': 'needs_action', 'yuri-yes': 'needs_action' });
    expect(await page.locator('.event-facts').textContent()).toMatch(/Garden.*version 1/);

    // The cancellation.
    await page.getByRole('button', { name: 'Cancel event' }).click();
    await page.getByLabel('Reason (optional, sent to the guests)').fill('Rained out');
    await page.getByRole('button', { name: 'Yes, cancel the event' }).click();
    await expect.poll(() => page.locator('.title-row .badge').textContent(), { timeout: 10_000 }).toBe('cancelled');
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('tr', { hasText: 'Browser launch party' }).locator('.badge', { hasText: 'cancelled' }).waitFor();

    // The API docs page works under the same Content Security Policy (no inline script, no CDN).
    await page.goto(host.url('/docs/'));
    await page.locator('.swagger-ui .info .title').waitFor({ timeout: 15_000 });
    expect(await page.locator('.swagger-ui .info .title').textContent()).toMatch(/event-planner host API/);

    expect(browser.consoleErrors).toEqual([]);
    expect(browser.offsiteRequests).toEqual([]);
  }, 150_000);

  it('shows a banner while the host is away and catches up without a reload when it is back', async (t) => {
    chromiumPath = needTools(t, ['chromium']).chromium;
    const host = await stack();
    // A host token: the board of its own event, through the sign-in link `npm start` prints.
    const token = await tokenFor('host', 'page-alice');
    const auth = { authorization: `Bearer ${token}` };
    const created = await fetch(host.url('/api/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ event_name: 'Outage drill', event_date: new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10), event_time: '12:00' }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    browser = await launchBrowser(chromiumPath);
    const { page } = browser;
    await page.goto(host.url(`/events/${id}#token=${token}`));
    await expect.poll(() => page.locator('.who').textContent()).toMatch(/page-alice \(host\)/);
    expect(page.url()).toBe(host.url(`/events/${id}`)); // the token left the address bar
    // A host sees no link to the whole system's views (the API would refuse them).
    expect(await page.getByRole('link', { name: 'Message flow' }).count()).toBe(0);
    await expectStates(page, { 'ada-yes': 'accepted', 'nils-no': 'declined', 'tess-maybe': 'tentative' });
    await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

    // The host goes away: the banner says so.
    await host.stop();
    const banner = page.getByTestId('api-banner');
    await banner.waitFor({ timeout: 15_000 });
    expect(await banner.textContent()).toMatch(/unreachable/);

    // The host is back on the same address: the banner goes, the stream resumes.
    const again = await ctx.procs.start('host', { ...withAuth, HOST_ID: 'page-host', DEFAULT_TIMEZONE: 'UTC', PORT: String(host.port) }, { ready: false });
    await banner.waitFor({ state: 'detached', timeout: 20_000 });
    expect(again.running).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true); // no reload
    const moved = await fetch(host.url(`/api/events/${id}`), { method: 'PATCH', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ event_time: '13:00' }) });
    expect(moved.status).toBe(202);
    await expectStates(page, { 'ada-yes': 'needs_action', 'nils-no': 'needs_action', 'tess-maybe': 'needs_action' });
    await expect.poll(() => page.locator('.event-facts').textContent()).toMatch(/13:00.*version 1/);

    // Signing out brings the form back; a viewer sees the same board, with nothing to change it.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in');
    await page.getByLabel('Token', { exact: true }).fill(await tokenFor('viewer', 'page-vera'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('board').waitFor();
    expect(await page.locator('.who').textContent()).toMatch(/page-vera \(viewer\)/);
    expect(await page.getByRole('link', { name: 'Update event' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Cancel event' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'New event' }).count()).toBe(0);

    // What the outage logged is the refused connections; nothing else went wrong.
    expect(browser.consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING|status of 503/.test(e))).toEqual([]);
    expect(browser.offsiteRequests).toEqual([]);
  }, 120_000);
});
