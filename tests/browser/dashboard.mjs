// Drives the clinic dashboard in Debian's headless Chromium (playwright-core from .tools/), as a phone-sized screen.
// Run by tests/dashboard/test_dashboard_browser.py, which seeds the databases, starts the backend and passes:
//   BASE_URL, STAFF_NAME, STAFF_PASSWORD, FROM, TO, LIST_FIGURE, PLAYWRIGHT_CORE, SCREENSHOT_DIR
// Prints one JSON line per checked step; exits non-zero with the failing step's message.
import { BASE, PHONE, SHOTS, env, expectText, login, step, withBrowser } from './common.mjs';

await withBrowser(async (browser) => {
  // 1. Without a session the dashboard answers 401 with the login form, and shows no figure.
  const stranger = await browser.newContext(PHONE);
  const strangerPage = await stranger.newPage();
  const refused = await strangerPage.goto(`${BASE}/staff/dashboard`);
  if (refused.status() !== 401) throw new Error(`no session got ${refused.status()}`);
  await expectText(strangerPage, 'Log in to see the dashboard.');
  if (await strangerPage.locator('a.figure').count()) throw new Error('figures shown without a session');
  step('no_session_refused');
  await stranger.close();

  // 2. Log in, open the dashboard from the header, choose the seeded period.
  const staff = await browser.newContext(PHONE);
  const page = await staff.newPage();
  await login(page, env('STAFF_NAME'), env('STAFF_PASSWORD'));
  await Promise.all([page.waitForLoadState('load'), page.click('header a[href="/staff/dashboard"]')]);
  await page.fill('#from', env('FROM'));
  await page.fill('#to', env('TO'));
  await Promise.all([page.waitForURL(/from=/), page.click('form.period button')]);
  await expectText(page, 'Funnels');
  step('dashboard_opened');

  // 3. Every number on the page, the median response, and that it fits a phone's width.
  const figures = Object.fromEntries(
    await page.$$eval('a.figure', (links) => links.map((a) => [a.dataset.figure, Number(a.textContent)])),
  );
  const median = (await page.locator('[data-figure=median_response]').textContent()).trim();
  const bars = await page.locator('svg.meter').count();
  const tiles = await page.locator('.tiles a.figure').count();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > PHONE.viewport.width) throw new Error(`page is ${width}px wide on a ${PHONE.viewport.width}px phone`);
  await page.screenshot({ path: `${SHOTS}/dashboard.png`, fullPage: true });
  step('figures', { figures, median, bars, tiles, width });

  // 4. A number opens the patients behind it, masked.
  const figure = env('LIST_FIGURE');
  await Promise.all([page.waitForLoadState('load'), page.click(`a.figure[data-figure="${figure}"]`)]);
  const members = await page.$$eval('li.member', (items) => items.map((li) => li.textContent.trim()));
  if (!members.every((m) => /^…\d{4}$/.test(m))) throw new Error(`unmasked members: ${members.slice(0, 3)}`);
  step('list', { figure, members: members.length });
  await staff.close();
});
