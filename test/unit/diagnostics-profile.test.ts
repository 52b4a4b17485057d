import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findClinic, parseProfileArgs, reportPath } from '../../src/commands/profile.js';

const dirs: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-clinic-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
/** A module URL inside a directory with no clinic anywhere above it, standing in for this package. */
const nowhere = () => pathToFileURL(path.join(tmp(), 'profile.js')).href;

describe('profile arguments', () => {
  it('maps the tools and reads the load options', () => {
    expect(parseProfileArgs(['heap', '--', 'node', 'server.js'])).toMatchObject({ tool: 'heap', load: false, command: ['node', 'server.js'], durationSec: 20, connections: 16 });
    expect(parseProfileArgs(['flame', '--load', '--duration', '5', '--connections=4', '--paths', '/a, /b', '--url', 'http://127.0.0.1:4000', '--', 'node', 's.js', '--port', '1'])).toMatchObject({
      tool: 'flame',
      load: true,
      durationSec: 5,
      connections: 4,
      paths: ['/a', '/b'],
      url: 'http://127.0.0.1:4000',
      command: ['node', 's.js', '--port', '1'],
    });
  });

  it('explains what is wrong', () => {
    expect(parseProfileArgs([])).toHaveProperty('error');
    expect(parseProfileArgs(['clinic', '--', 'node', 's.js'])).toHaveProperty('error');
    expect(parseProfileArgs(['doctor'])).toHaveProperty('error');
    expect(parseProfileArgs(['doctor', '--', 'npm', 'start'])).toHaveProperty('error');
    expect(parseProfileArgs(['doctor', '--fast', '--', 'node', 's.js'])).toHaveProperty('error');
    expect(parseProfileArgs(['doctor', '--duration', '0', '--', 'node', 's.js'])).toHaveProperty('error');
    expect(parseProfileArgs(['doctor', '--paths', 'a', '--', 'node', 's.js'])).toHaveProperty('error');
  });
});

describe('finding clinic', () => {
  it('finds nothing in an empty project with an empty PATH', () => {
    expect(findClinic(tmp(), { PATH: '' }, nowhere())).toBeUndefined();
  });

  it('finds the project’s clinic package and runs its bin with this node', () => {
    const project = tmp();
    const pkg = path.join(project, 'node_modules/clinic');
    fs.mkdirSync(path.join(pkg, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'clinic', bin: { clinic: 'bin/clinic.js' } }));
    fs.writeFileSync(path.join(pkg, 'bin/clinic.js'), '');
    expect(findClinic(project, { PATH: '' }, nowhere())).toEqual({ file: process.execPath, args: [path.join(fs.realpathSync(pkg), 'bin/clinic.js')] });
  });

  it('finds an executable clinic on PATH', () => {
    const bin = tmp();
    fs.writeFileSync(path.join(bin, 'clinic'), '#!/bin/sh\n', { mode: 0o755 });
    expect(findClinic(tmp(), { PATH: ['/nonexistent', bin].join(path.delimiter) }, nowhere())).toEqual({ file: path.join(bin, 'clinic'), args: [] });
  });
});

describe('report path', () => {
  it('reads clinic’s last line, relative or as a file URL', () => {
    expect(reportPath('Analysing data\nGenerated HTML file is .clinic/123.clinic-doctor.html\n', '/srv/app')).toBe('/srv/app/.clinic/123.clinic-doctor.html');
    expect(reportPath('Generated HTML file is file:///srv/app/.clinic/9.clinic-flame.html', '/x')).toBe('/srv/app/.clinic/9.clinic-flame.html');
    expect(reportPath('nothing here', '/x')).toBeUndefined();
  });
});
