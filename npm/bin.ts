#!/usr/bin/env node
/**
 * The `nncompress` executable of the npm package: `cli.ts` behind a Node hashbang (the npm build
 * bundles this file as `cli.js`).
 *
 * @module
 */

import "../cli.ts";
