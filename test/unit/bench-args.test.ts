import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../src/commands/bench.js';

describe('plandex-perf bench arguments', () => {
  it('takes defaults, --flag value and --flag=value alike', () => {
    const a = parseBenchArgs(['--profile=laptop-4g', '--rounds', '3', '--no-cache']);
    expect(a).toMatchObject({ profile: 'laptop-4g', rounds: 3, cache: false, scenario: 'load', durationSec: 20, warmupSec: 5, threshold: 10 });
  });

  it('--help is a flag like the others', () => {
    expect(parseBenchArgs(['--help'])).toMatchObject({ help: true });
    expect(parseBenchArgs(['-h', '--quick'])).toMatchObject({ help: true });
    expect(parseBenchArgs([])).toMatchObject({ help: false });
  });

  it('writes outside the checkout unless --out says where', () => {
    expect(parseBenchArgs([])).toMatchObject({ out: path.join(os.tmpdir(), 'plandex-perf-bench') });
    expect(parseBenchArgs(['--out', 'loadtests/results'])).toMatchObject({ out: path.resolve('loadtests/results') });
  });

  it('--quick is a smoke run, and says so', () => {
    expect(parseBenchArgs(['--quick'])).toMatchObject({ smoke: true });
    expect(parseBenchArgs(['--duration', '3', '--rounds', '1'])).toMatchObject({ smoke: false });
  });

  it('--quick shortens only what was not given, wherever it stands', () => {
    expect(parseBenchArgs(['--duration', '10', '--quick'])).toMatchObject({ durationSec: 10, rounds: 1, warmupSec: 1 });
    expect(parseBenchArgs(['--quick', '--rounds', '2'])).toMatchObject({ durationSec: 3, rounds: 2, warmupSec: 1 });
  });

  it('names the bad input', () => {
    expect(parseBenchArgs(['--rounds', '0'])).toBe('--rounds must be a number from 1 to 50, got "0"');
    expect(parseBenchArgs(['--connections', '2.5'])).toBe('--connections must be a whole number, got "2.5"');
    expect(parseBenchArgs(['--duration'])).toBe('--duration needs a value');
    expect(parseBenchArgs(['--frobnicate'])).toBe('unknown option "--frobnicate"');
    expect(parseBenchArgs(['--quikc'])).toBe('unknown option "--quikc" (did you mean --quick?)');
    expect(parseBenchArgs(['--duration='])).toBe('--duration needs a value');
    expect(parseBenchArgs(['--verbose=yes'])).toBe('--verbose takes no value');
    expect(parseBenchArgs(['load'])).toBe('unexpected argument "load"');
    expect(parseBenchArgs(['--results', 'a.json'])).toMatch(/--results needs --compare/);
  });
});
