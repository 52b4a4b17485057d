import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { plugins } from '../../plugins/index.js';

/**
 * The README's capabilities and metrics tables list everything that ships: a plugin added to
 * plugins/index.ts, or a series added to a `metricNames` of a semconv.ts, fails here until it has its row.
 */
const root = path.resolve(import.meta.dirname, '../..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

/** The rows of the first table under `heading`, as cells. */
function tableRows(heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README has no "${heading}" section`);
  const lines = readme.slice(start + heading.length + 2).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

/** `a.{b,c}` → `a.b`, `a.c`; `.d` after it → `a.d` (the stem of the last full name in the cell). */
function namesInCell(cell: string): string[] {
  const out: string[] = [];
  let stem = '';
  for (const [, token] of cell.matchAll(/`([^`]+)`/g)) {
    if (!token!.includes('.')) continue; // a value in the note, not a name
    const full = token!.startsWith('.') ? `${stem}${token}` : token!;
    if (!token!.startsWith('.')) stem = full.includes('{') ? full.slice(0, full.indexOf('{') - 1) : full.slice(0, full.lastIndexOf('.'));
    const brace = /^(.*)\{([^}]+)\}(.*)$/.exec(full);
    if (brace) for (const part of brace[2]!.split(',')) out.push(`${brace[1]}${part}${brace[3]}`);
    else out.push(full);
  }
  return out;
}

async function shippedMetricNames(): Promise<Map<string, string>> {
  const files = [
    ...fs.readdirSync(path.join(root, 'plugins')).map((name) => path.join(root, 'plugins', name, 'semconv.ts')),
    path.join(root, 'src', 'telemetry', 'semconv.ts'),
  ].filter((file) => fs.existsSync(file));
  const names = new Map<string, string>();
  for (const file of files) {
    const module = (await import(pathToFileURL(file).href)) as { metricNames?: readonly string[] };
    expect(module.metricNames, `${path.relative(root, file)} exports metricNames`).toBeDefined();
    for (const name of module.metricNames ?? []) names.set(name, path.relative(root, file));
  }
  return names;
}

describe('README tables', () => {
  it('the metrics table has a row for every series a semconv.ts declares, and names no other', async () => {
    const shipped = await shippedMetricNames();
    const listed = new Set(tableRows('## Metrics').flatMap(([name]) => namesInCell(name ?? '')));
    const missing = [...shipped].filter(([name]) => !listed.has(name)).map(([name, file]) => `${name} (${file})`);
    const unknown = [...listed].filter((name) => !shipped.has(name));
    expect(missing, 'series without a README row').toEqual([]);
    expect(unknown, 'README rows naming no declared series').toEqual([]);
  });

  it('the capabilities table has a row for every plugin in plugins/index.ts', () => {
    const listed = tableRows('## Capabilities (one plugin each, in `plugins/`)').map(([cell]) => /`([^`]+)`/.exec(cell ?? '')?.[1]);
    expect(listed.sort()).toEqual(plugins.map((p) => p.name).sort());
  });
});
