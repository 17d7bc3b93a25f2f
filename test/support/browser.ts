import { Browser, BrowserContext, BrowserContextOptions, chromium, Page } from 'playwright-core';

/** Debian's chromium package (.ci/run installs it); playwright-core brings no browser of its own. */
export const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: [ '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync' ],
};
export const PNG_SIGNATURE = Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]);
export const VIEWPORT = { width: 1280, height: 860 };

export function launchChromium(): Promise<Browser> {
  return chromium.launch(CHROMIUM);
}

/**
 * Registers, in the calling describe, a before hook that launches Chromium and an after hook that
 * closes it; answers a getter for the browser (for use in hooks and tests).
 */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });
  return () => browser!;
}

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** What the page threw (its 'pageerror' events), for the test to assert empty. */
  pageErrors: string[];
}

/**
 * A fresh context and page in `browser`; `initScript`, if given, is added to the context before
 * the page opens.
 */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}, initScript?: string): Promise<OpenedPage> {
  const context = await browser.newContext(options);
  if (initScript !== undefined) await context.addInitScript(initScript);
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', err => pageErrors.push(err.message));
  return { context, page, pageErrors };
}
