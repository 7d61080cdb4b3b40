// Drives the staff inbox in Debian's headless Chromium (playwright-core from .tools/), as a phone-sized screen.
// Run by tests/handoff/test_staff_inbox_browser.py, which starts the backend and passes everything through env:
//   BASE_URL, CASE_ID, STAFF_NAME, STAFF_PASSWORD, EXPIRED_COOKIE, PLAYWRIGHT_CORE, SCREENSHOT_DIR
// Prints one JSON line per checked step; exits non-zero with the failing step's message.
import { BASE, PHONE, SHOTS, env, expectText, login, step, withBrowser } from './common.mjs';

const CASE_ID = env('CASE_ID');

await withBrowser(async (browser) => {
  // 1. A wrong password is refused and gives no session.
  const stranger = await browser.newContext(PHONE);
  const strangerPage = await stranger.newPage();
  await login(strangerPage, env('STAFF_NAME'), 'not-the-password');
  await expectText(strangerPage, 'Wrong name or password.');
  await strangerPage.goto(`${BASE}/staff`);
  if (!new URL(strangerPage.url()).pathname.endsWith('/staff/login')) throw new Error(`wrong password reached ${strangerPage.url()}`);
  step('wrong_password_refused');
  await stranger.close();

  // 2. An expired (but correctly signed) session cookie is refused.
  const late = await browser.newContext(PHONE);
  await late.addCookies([{ name: 'carebot_staff', value: env('EXPIRED_COOKIE'), url: `${BASE}/staff` }]);
  const latePage = await late.newPage();
  await latePage.goto(`${BASE}/staff`);
  await expectText(latePage, 'Your session has expired');
  if (!latePage.url().includes('/staff/login?expired=1')) throw new Error(`expired session reached ${latePage.url()}`);
  step('expired_session_refused');
  await late.close();

  // 3. Log in, see the open cases, open the one from the WhatsApp conversation.
  const staff = await browser.newContext(PHONE);
  const page = await staff.newPage();
  await login(page, env('STAFF_NAME'), env('STAFF_PASSWORD'));
  await expectText(page, 'Open cases');
  const cookie = (await staff.cookies()).find((c) => c.name === 'carebot_staff');
  if (!cookie || !cookie.httpOnly || cookie.sameSite !== 'Strict') throw new Error('session cookie is not HttpOnly + Strict');
  await page.screenshot({ path: `${SHOTS}/staff-inbox.png`, fullPage: true });
  step('logged_in', { cases: await page.locator('.cases li').count() });

  await Promise.all([page.waitForLoadState('load'), page.click(`a[href="/staff/cases/${CASE_ID}"]`)]);
  await expectText(page, `Case #${CASE_ID}`);
  await expectText(page, 'Conversation with the bot');
  step('case_opened');

  // 4. Reply on WhatsApp.
  await page.fill('#reply', 'Hello, this is the practice nurse. Please send the photo again in daylight.');
  await Promise.all([page.waitForURL(/done=sent/), page.click('form[action$="/reply"] button')]);
  await expectText(page, 'Reply sent to the patient on WhatsApp.');
  step('replied');

  // 5. A note, then resolve (hands the conversation back to the bot).
  await page.fill('#note', 'Asked for a clearer photo; will review this afternoon.');
  await Promise.all([page.waitForURL(/done=note/), page.click('form[action$="/note"] button')]);
  await page.screenshot({ path: `${SHOTS}/staff-case.png`, fullPage: true });
  await Promise.all([page.waitForURL(/done=resolved/), page.click('form[action$="/resolve"] button')]);
  await expectText(page, 'Case resolved. The bot is answering this patient again.');
  step('resolved');
  await staff.close();
});
