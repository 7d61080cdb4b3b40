// What the browser scripts share: the environment the Python test passes (BASE_URL, SCREENSHOT_DIR,
// PLAYWRIGHT_CORE: tests/browser_harness.py), a phone-sized screen, one JSON line per checked step, the staff login,
// and Debian's headless Chromium, launched once per script and closed whatever happens.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

export const env = (name) => {
  if (!process.env[name]) throw new Error(`missing environment variable ${name}`);
  return process.env[name];
};
export const BASE = env('BASE_URL');
export const SHOTS = env('SCREENSHOT_DIR');
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

export function step(name, detail = {}) {
  console.log(JSON.stringify({ step: name, ...detail }));
}

export async function expectText(page, text) {
  await page.getByText(text, { exact: false }).first().waitFor({ state: 'visible', timeout: 5000 });
}

export async function login(page, name, password) {
  await page.goto(`${BASE}/staff/login`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

// Runs `check(browser)`; a failing step's message goes to stderr and the script exits non-zero.
export async function withBrowser(check) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await check(browser);
  } catch (error) {
    console.error(`browser check failed: ${error.message}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
