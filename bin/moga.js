#!/usr/bin/env node
// Runs the compiled CLI (dist/), which ships in the package; a checkout builds it with npm run build
// (or runs the source through tsx with npm run moga).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(built)) {
  console.error(`moga: ${built} is missing: run npm run build first (or npm run moga -- ARGS from source)`);
  process.exit(1);
}
await import(pathToFileURL(built).href);
