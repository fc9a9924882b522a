/** `npm run bench -- <name> [options]`: runs bench/<name>.ts, whose default export takes argv. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3));
const [name, ...rest] = process.argv.slice(2);
if (!name || !existsSync(join(here, `${name}.ts`))) {
  console.error(`usage: npm run bench -- <${names.join('|')}> [--json FILE]`);
  process.exit(2);
}
const mod = await import(pathToFileURL(join(here, `${name}.ts`)).href);
await mod.default(rest);
