#!/usr/bin/env node
// Fails when modules of src/ or plugins/ import each other in a cycle, type-only imports included (a
// type-only cycle is a sign that a type lives in the wrong file, and the next value import makes it a
// real one). Run by `npm run lint`. Uses the TypeScript parser the project already has; no madge needed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const files = new Set();
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.add(p);
  }
};
for (const dir of ['src', 'plugins']) walk(path.join(root, dir));

/** Relative imports and re-exports of one file, resolved to the .ts files they name. */
function importsOf(file) {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out = [];
  for (const statement of source.statements) {
    const specifier = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier.text : undefined;
    if (!specifier?.startsWith('.')) continue;
    const base = path.resolve(path.dirname(file), specifier);
    const target = [base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')].find((f) => files.has(f));
    if (target) out.push(target);
  }
  return [...new Set(out)];
}
const edges = new Map([...files].map((f) => [f, importsOf(f)]));

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(v) {
  index.set(v, counter);
  low.set(v, counter);
  counter++;
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) !== index.get(v)) return;
  const component = [];
  let w;
  do {
    w = stack.pop();
    onStack.delete(w);
    component.push(w);
  } while (w !== v);
  if (component.length > 1) cycles.push(component);
}
for (const f of files) if (!index.has(f)) visit(f);

const rel = (f) => path.relative(root, f);
if (cycles.length > 0) {
  for (const cycle of cycles) {
    console.error(`import cycle: ${cycle.map(rel).join(' ⇄ ')}`);
    for (const f of cycle) for (const t of edges.get(f)) if (cycle.includes(t)) console.error(`  ${rel(f)} imports ${rel(t)}`);
  }
  console.error('Move the shared declarations to the module both can import (or the lower of the two).');
  process.exit(1);
}
console.log(`no import cycles in src/ and plugins/ (${files.size} files)`);
