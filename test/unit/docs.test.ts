import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codes } from '../../src/errors.js';
import { builtinPlugins } from '../../src/builtin.js';
import { OPTIONS_BEGIN, OPTIONS_END, errorsMarkdown, optionsMarkdown } from '../../src/docs.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

describe('error codes and their documentation', () => {
  const documented = new Set([...read('docs/errors.md').matchAll(/^## (PPERF_\w+)$/gm)].map((m) => m[1]));

  it('every code is documented with a cause and a fix', () => {
    for (const code of Object.keys(codes)) expect(documented, code).toContain(code);
    for (const { cause, fix } of Object.values(codes)) {
      expect(cause.length).toBeGreaterThan(10);
      expect(fix.length).toBeGreaterThan(10);
    }
  });

  it('docs/errors.md says, for each code, exactly the cause and the fix the code carries (regenerate with `plandex-perf errors --write docs/errors.md`)', () => {
    const doc = read('docs/errors.md');
    const sections = new Map(doc.split(/^## /m).slice(1).map((section) => [section.slice(0, section.indexOf('\n')), section]));
    for (const [code, { cause, fix }] of Object.entries(codes)) {
      expect(sections.get(code), code).toContain(`**Cause.** ${cause}`);
      expect(sections.get(code), code).toContain(`**Fix.** ${fix}`);
    }
    expect(doc).toBe(errorsMarkdown());
  });

  it('the doc lists no code that does not exist', () => {
    for (const code of documented) expect(Object.keys(codes), code!).toContain(code);
  });

  it('every code the source uses is a declared code', () => {
    const used = new Set<string>();
    for (const file of [...sourceFiles('src'), ...sourceFiles('plugins')]) {
      for (const m of read(file).matchAll(/PPERF_(?:ERR|WRN)_\w+/g)) used.add(m[0]);
    }
    expect(used.size).toBeGreaterThan(5);
    for (const code of used) expect(Object.keys(codes), code).toContain(code);
  });
});

describe('README options table', () => {
  it('matches the table generated from the plugin schemas (run `npm run docs:options`)', () => {
    const readme = read('README.md');
    const start = readme.indexOf(OPTIONS_BEGIN);
    const end = readme.indexOf(OPTIONS_END);
    expect(start).toBeGreaterThan(-1);
    expect(readme.slice(start + OPTIONS_BEGIN.length, end).trim()).toBe(optionsMarkdown(builtinPlugins).trim());
  });

  it('documents every option of every plugin', () => {
    const table = optionsMarkdown(builtinPlugins);
    for (const plugin of builtinPlugins) {
      for (const field of Object.keys(plugin.schema.fields)) expect(table).toContain(`\`${plugin.name}.${field}\``);
    }
  });
});

describe('plugin layout', () => {
  it('each plugin folder has index.ts, schema.ts, semconv.ts and README.md', () => {
    const dirs = fs.readdirSync(path.join(root, 'plugins'), { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(dirs.length).toBeGreaterThan(5);
    for (const { name: dir } of dirs) {
      for (const file of ['index.ts', 'schema.ts', 'semconv.ts', 'README.md']) {
        expect(fs.existsSync(path.join(root, 'plugins', dir, file)), `plugins/${dir}/${file}`).toBe(true);
      }
    }
  });
});
