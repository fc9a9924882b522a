/**
 * Files that ship inside the package (the bundled model, its VAE, the example stories), found from
 * this module's own location, so they resolve the same from src/ (tsx), dist/src/ (compiled) and
 * node_modules/moga/ (installed), whatever the working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding moga's package.json (the repository root in a checkout). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'moga')
      return (root = dir);
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`moga: cannot find its own package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The bundled model directory (models/dit-tiny: DiT, text encoder, and the VAE it names). */
export function bundledModel(): string {
  return join(packageRoot(), 'models', 'dit-tiny');
}

/** A bundled example story: 'minute' (60 s, 8 shots) or 'short'. */
export function bundledExample(name: 'minute' | 'short'): string {
  return join(packageRoot(), 'examples', `${name}.story.json`);
}

/** moga's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
}
