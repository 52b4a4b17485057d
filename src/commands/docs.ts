import fs from 'node:fs';
import { builtinPlugins } from '../builtin.js';
import { errorsMarkdown, optionsMarkdown, replaceBlock } from '../docs.js';
import { helpOption, parseFlags, reportUsage } from './args.js';

export const optionsUsage = `Usage: plandex-perf options [--write FILE]

Prints the options table generated from the plugin schemas (Markdown), or with --write replaces the
generated block in FILE (README.md: \`npm run docs:options\`).
`;

export const errorsUsage = `Usage: plandex-perf errors [--write FILE]

Prints the reference of every error and warning code with its cause and fix (Markdown), or writes it to
FILE (docs/errors.md).
`;

const options = { ...helpOption, write: { type: 'string' } } as const;

/** Prints the generated Markdown, or writes `merge(current contents)` to the --write file. */
function printOrWrite(argv: string[], usage: string, generated: string, merge: (current: string) => string): number {
  let values;
  try {
    ({ values } = parseFlags(argv, options));
  } catch (error) {
    return reportUsage(error, usage);
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.write === undefined) {
    process.stdout.write(`${generated}\n`);
    return 0;
  }
  const current = fs.existsSync(values.write) ? fs.readFileSync(values.write, 'utf8') : '';
  fs.writeFileSync(values.write, merge(current));
  console.log(`wrote ${values.write}`);
  return 0;
}

export function optionsCommand(argv: string[]): number {
  const table = optionsMarkdown(builtinPlugins);
  return printOrWrite(argv, optionsUsage, table, (current) => replaceBlock(current, table));
}

export function errorsCommand(argv: string[]): number {
  const reference = errorsMarkdown();
  return printOrWrite(argv, errorsUsage, reference, () => reference);
}
