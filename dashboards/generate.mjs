#!/usr/bin/env node
/**
 * Writes the Grafana dashboards (dashboards/*.json) from their sources in dashboards/src/.
 *
 *   node dashboards/generate.mjs           rewrite the JSON files
 *   node dashboards/generate.mjs --check   exit 1 if a JSON file differs from its source (CI)
 *
 * The JSON files are what users import and what docker/compose.yml provisions; the sources keep the
 * four dashboards' selectors, variables and links uniform. Edit the sources, not the JSON.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import cache from './src/cache.mjs';
import database from './src/database.mjs';
import overview from './src/overview.mjs';
import { resetIds } from './src/panels.mjs';
import runtime from './src/runtime.mjs';

/** File name → builder. */
export const builders = { 'overview.json': overview, 'database.json': database, 'cache.json': cache, 'runtime.json': runtime };

/** @returns {Record<string, string>} file name → JSON text */
export function render() {
  /** @type {Record<string, string>} */
  const files = {};
  for (const [file, build] of Object.entries(builders)) {
    resetIds(); // panel ids count from 1 in each dashboard
    files[file] = `${JSON.stringify(build(), null, 2)}\n`;
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of Object.entries(render())) {
    const url = new URL(file, import.meta.url);
    const current = await readFile(url, 'utf8').catch(() => '');
    if (current === text) continue;
    if (check) {
      stale++;
      console.error(`dashboards/${file} differs from its source: run node dashboards/generate.mjs`);
    } else {
      await writeFile(url, text);
      console.log(`wrote dashboards/${file}`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
