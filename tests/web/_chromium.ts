// What the browser tests of the page share: Debian's Chromium, its flags, the int8 list, and a
// built page served and opened for one test.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { buildWeb } from "../../web/build.ts";
import { serveStatic } from "../../web/static_server.ts";

/** Debian's Chromium (never a browser download). */
export const CHROMIUM = "/usr/bin/chromium";

/** Flags for a headless run that makes no requests of its own. */
export const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The `skip` option of a test that needs Chromium. */
export const skip = existsSync(CHROMIUM) ? false : "no Chromium at /usr/bin/chromium";

/** int8 per-channel weights of the Conv2d and Linear modules. */
export const INT8 = JSON.stringify([{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "per_channel",
}]);

/** What a test of the built page gets: its temporary folder, the page, and the page's errors. */
export interface SiteRun {
  /** A temporary folder of the test's own (the built site is in `site/` below it). */
  dir: string;
  /** A new page (downloads accepted), already at the site's address. */
  page: Page;
  /** Uncaught errors of the page so far. */
  errors: string[];
}

/**
 * Builds the web page into a new temporary folder, serves it, opens it in Chromium and runs
 * `body`; closes the browser and the server and removes the folder after it, whatever happens.
 */
export async function withSite(
  prefix: string,
  body: (run: SiteRun) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await buildWeb(join(dir, "site"));
    const site = await serveStatic(join(dir, "site"));
    try {
      const { chromium } = await import("playwright-core");
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ARGS,
        timeout: 30_000,
      });
      try {
        const page = await browser.newPage({ acceptDownloads: true });
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(site.url);
        await body({ dir, page, errors });
      } finally {
        await browser.close();
      }
    } finally {
      await site.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
