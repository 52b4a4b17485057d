import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PluginHost } from '../../src/host.js';
import { log } from '../../src/log.js';
import { definePlugin } from '../../src/plugin.js';
import type { Profile } from '../../src/profiles.js';
import { s } from '../../src/schema.js';

const profile: Profile = { name: 'test', memoryBytes: 1024 ** 3, cpus: 2, constrained: false, intent: 'safe', maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 2 };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-hooks-'));
const pkg = path.join(dir, 'node_modules', 'fake-driver');

beforeAll(() => {
  fs.mkdirSync(path.join(pkg, 'lib'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'fake-driver', version: '2.1.0' }));
  fs.writeFileSync(path.join(pkg, 'lib', 'index.js'), 'module.exports = { connect() {} };\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A plugin that hooks fake-driver's lib/index.js for `versions` and notes its name in `seen` when it is called. */
const hooker = (seen: string[], name: string, versions: string) =>
  definePlugin({
    name,
    description: name,
    schema: s.object({}),
    modules: [{ name: 'fake-driver', file: 'lib/index.js', versions }],
    setup: (ctx) => ctx.onModuleLoad('fake-driver', () => void seen.push(name)),
  });

describe('module hooks with two plugins on one file', () => {
  it("checks each plugin's own range: a copy outside one plugin's range is left to the other, with that plugin's coded line", async () => {
    const once = vi.spyOn(log, 'once').mockImplementation(() => {});
    const seen: string[] = [];
    const host = new PluginHost(profile, 1000);
    // The first to declare supports 1.x only; the second supports the installed 2.x.
    await host.start([hooker(seen, 'old-range', '>=1.0.0 <2'), hooker(seen, 'new-range', '>=2.0.0 <3')], new Map());
    try {
      createRequire(path.join(dir, 'app.js'))('fake-driver/lib/index.js');
      expect(seen).toEqual(['new-range']);
      const warnings = once.mock.calls.filter((call) => call[2] === 'PPERF_WRN_026');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]![3]).toContain('"old-range"');
    } finally {
      await host.close(1000);
      once.mockRestore();
    }
  });
  it('one line per copy and range, naming every plugin that leaves the copy alone', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-hooks-'));
    const copy = path.join(other, 'node_modules', 'fake-driver');
    fs.mkdirSync(path.join(copy, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ name: 'fake-driver', version: '2.1.0' }));
    fs.writeFileSync(path.join(copy, 'lib', 'index.js'), 'module.exports = { connect() {} };\n');
    const once = vi.spyOn(log, 'once').mockImplementation(() => {});
    const seen: string[] = [];
    const host = new PluginHost(profile, 1000);
    await host.start([hooker(seen, 'first', '>=1.0.0 <2'), hooker(seen, 'second', '>=1.0.0 <2')], new Map());
    try {
      createRequire(path.join(other, 'app.js'))('fake-driver/lib/index.js');
      expect(seen).toEqual([]);
      const warnings = once.mock.calls.filter((call) => call[2] === 'PPERF_WRN_026');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]![3]).toContain('2.1.0 is outside the supported range >=1.0.0 <2 of plugins "first", "second"');
    } finally {
      await host.close(1000);
      once.mockRestore();
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
