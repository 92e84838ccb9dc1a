// What the browser tests of the page share: Debian's Chromium, its flags, the int8 list.
import { existsSync } from "node:fs";

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
