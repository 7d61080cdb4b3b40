// Drives the designers' simulator in Debian's headless Chromium (tests/browser/common.mjs): a booking typed and
// tapped on the phone, a symptom check answered "no" to the end, the window closed and the reminders' clock moved on, then everything the chat and the side
// panel show, as JSON lines for the test to compare. Run by tests/simulator/test_simulator_browser.py, which starts
// the stack, the Twilio stand-in and the page, and passes TOKEN (and common.mjs's variables).
import { BASE, SHOTS, env, step, withBrowser } from './common.mjs';

const SCREEN = { viewport: { width: 1100, height: 900 } };

async function settled(page) {
  await page.waitForFunction(() => !document.body.classList.contains('busy'), null, { timeout: 90000 });
  const failed = await page.locator('#status').textContent();
  if (failed.startsWith('Failed')) throw new Error(failed);
}

async function lastBot(page) {
  return page.locator('#chat li.from-bot').last();
}

async function say(page, text, expected) {
  await page.fill('#message', text);
  await page.click('#send');
  await settled(page);
  const said = await (await lastBot(page)).textContent();
  if (expected && !said.includes(expected)) {
    const chat = await page.locator('#chat').textContent();
    throw new Error(`after "${text}" expected "${expected}", the chat shows: ${chat.slice(-400)}`);
  }
}

// Picks the first time offered: a tap on a quick reply, a pick in a list, or its number when sent as text.
async function pickFirst(page) {
  const offer = await lastBot(page);
  const kind = await offer.getAttribute('data-kind');
  if (kind === 'buttons') {
    await offer.locator('button.tap').first().click();
  } else if (kind === 'list') {
    await offer.locator('button.list-open').click();
    await offer.locator('button.pick').first().click();
  } else {
    await page.fill('#message', '1');
    await page.click('#send');
  }
  await settled(page);
  return kind;
}

await withBrowser(async (browser) => {
  // 1. Without the token: 401, no phone.
  const stranger = await (await browser.newContext(SCREEN)).newPage();
  const refused = await stranger.goto(`${BASE}/simulator`);
  if (refused.status() !== 401) throw new Error(`no token got ${refused.status()}`);
  if (await stranger.locator('#chat').count()) throw new Error('the phone was shown without the token');
  step('no_token_refused');

  // 2. The printed link: the token becomes a cookie and leaves the address bar.
  const page = await (await browser.newContext(SCREEN)).newPage();
  await page.goto(`${BASE}/simulator?token=${encodeURIComponent(env('TOKEN'))}`);
  if (new URL(page.url()).search) throw new Error(`the token stayed in the address: ${page.url()}`);
  await page.locator('#chat').waitFor();
  step('opened');

  // 3. A booking, typed and tapped.
  await say(page, "I'd like to book a GP appointment", 'When would you like to come in?');
  await say(page, 'next Tuesday morning');
  const offered = await pickFirst(page);
  const asked = await (await lastBot(page)).textContent();
  if (!asked.includes('full name')) throw new Error(`after the pick the bot said: ${asked}`);
  await say(page, 'Sam Taylor', 'date of birth');
  await say(page, '21/07/1980', 'Please check:');
  const confirm = await lastBot(page);
  const yes = confirm.locator('button.tap', { hasText: /yes/i });
  if (await yes.count()) {
    await yes.first().click();
    await settled(page);
  } else {
    await say(page, 'yes');
  }
  const booked = await (await lastBot(page)).textContent();
  if (!booked.includes('Booked')) throw new Error(`not booked: ${booked}`);
  step('booked', { offered });

  // 3b. A symptom check: consent, then every question answered "no" until the outcome (at most 12 messages).
  await say(page, 'I have had a headache since this morning', 'Before I ask about your health');
  let outcome = '';
  for (let turn = 0; turn < 12 && !outcome.includes('not a diagnosis'); turn += 1) {
    await say(page, turn === 0 ? 'yes' : 'no');
    outcome = await page.$$eval('#chat li.from-bot .body', (bodies) => bodies.map((b) => b.textContent).join(' | '));
  }
  if (!outcome.includes('not a diagnosis')) throw new Error(`the symptom check did not end: ${outcome.slice(-400)}`);
  step('triaged');

  // 4. A day later: the 24-hour window closes, the reminders' clock moves on, and the appointment's reminder
  //    arrives as its approved template (the dispatcher's next round, the page's next poll).
  await page.click('#jump');
  await settled(page);
  if ((await page.locator('#window-state').textContent()) !== '24 h window closed') throw new Error('window still open');
  await page.fill('#clock-hours', '240');
  await page.click('#clock');
  await settled(page);
  const moved = await page.locator('#status').textContent();
  const count = Number(moved.split(' ')[0]);
  if (!(count > 0)) throw new Error(`no reminder was moved: ${moved}`);
  await page.waitForFunction((n) => document.querySelectorAll('#chat li.kind-template').length >= n, count,
    { timeout: 45000 });
  await settled(page);
  step('reminded', { moved, count });

  // 5. What the chat and the panel show.
  const chat = await page.$$eval('#chat li.message', (items) => items.map((li) => ({
    from: li.dataset.from,
    kind: li.dataset.kind,
    sid: li.dataset.sid || '',
    body: li.querySelector('.body')?.textContent || '',
    template: li.querySelector('.template-name')?.textContent || '',
    options: [...li.querySelectorAll('button.tap, button.pick')].map((b) => b.textContent),
  })));
  const panels = await page.$$eval('#turns li.turn', (items) => items.map((li) => ({
    said: li.querySelector('.said').textContent,
    intent: li.querySelector('dd.intent')?.textContent || '',
    actions: li.querySelector('dd.actions')?.textContent || '',
    flows: [...li.querySelectorAll('.flows a')].map((a) => a.getAttribute('href')),
  })));
  await page.screenshot({ path: `${SHOTS}/simulator.png`, fullPage: true });
  step('shown', { chat, panels, phone: (await page.locator('#phone-number').textContent()).trim() });

  // 6. A diagram linked from the panel opens.
  const link = panels.flatMap((p) => p.flows)[0];
  if (link) {
    const diagram = await page.request.get(`${BASE}${link}`);
    if (diagram.status() !== 200) throw new Error(`${link} answered ${diagram.status()}`);
  }
  step('flow_linked', { link: link || '' });

  // 7. Reset: a new patient, an empty chat.
  await page.click('#reset');
  await settled(page);
  if (await page.locator('#chat li.message').count()) throw new Error('the chat was not emptied by reset');
  step('reset', { phone: (await page.locator('#phone-number').textContent()).trim() });
});
