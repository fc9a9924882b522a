/**
 * `moga <command> [options]`: each command is a module under cli/ exporting `run(argv)`, loaded
 * only when used (so a CPU-only machine never loads the CUDA FFI, for example).
 */
import { packageVersion } from '../pipeline/bundled.js';
import { COMMAND_TABLE as COMMANDS } from './commands.js';

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.about}`);
  return [
    'usage: moga <command> [options]   (moga <command> --help for its options)',
    '',
    ...rows,
    '',
    '  --version  print the version',
  ].join('\n');
}

async function main(argv: string[]) {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return;
  }
  if (name === '--version' || name === '-v') {
    console.log(packageVersion());
    return;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`moga: unknown command '${name}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  await (await cmd.load()).run(rest);
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(`moga: ${e.message}`);
  if (process.env.MOGA_DEBUG) console.error(e.stack);
  process.exitCode = 1;
});
