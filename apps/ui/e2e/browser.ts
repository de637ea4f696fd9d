import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.KRAKEN_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve(__dirname, '..', '..', '..', 'test-output', 'ui');

/** Chromium is there, or the test must be skipped (unless KRAKEN_TEST_REQUIRE names chromium: then it fails). */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const required = (process.env.KRAKEN_TEST_REQUIRE ?? '').split(/[\s,]+/).includes('chromium');
  if (required) throw new Error(`${CHROMIUM} is missing and KRAKEN_TEST_REQUIRE includes chromium: install it (apt-get install -y chromium)`);
  console.warn(`SKIPPED: UI browser tests: ${CHROMIUM} is missing (apt-get install -y chromium); set KRAKEN_TEST_REQUIRE=chromium to make this an error`);
  return false;
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors and failed requests the page reported. */
  problems: string[];
  /** Every request the page made, as `METHOD url`. */
  requests: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh profile, through playwright-core. */
export async function openBrowser(viewport = { width: 1280, height: 800 }): Promise<BrowserSession> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'kk-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    browser: context.browser()!,
    context,
    page,
    problems,
    requests,
    async screenshot(name: string) {
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
