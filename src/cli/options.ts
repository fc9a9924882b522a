/**
 * Option helpers shared by the CLI commands: number options checked with a clear error naming the
 * command and the flag, and the JSON recipe of a `moga train` command.
 */
import { readFileSync } from 'node:fs';
import { checkNoiseCorrelation } from '../diffusion/noise.js';
import { checkGuidance, checkGuidanceUntil, MAX_GUIDANCE } from '../pipeline/generate.js';

/** `--name v` as a finite number > 0; undefined when the option was not given. */
export function positiveNumber(cmd: string, name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0))
    throw new Error(`${cmd}: --${name} must be a positive number, got '${v}'`);
  return n;
}

/** `--name v` as an integer >= min; undefined when the option was not given. */
export function integerAtLeast(
  cmd: string,
  name: string,
  v: string | undefined,
  min: number,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(v.trim() !== '' && Number.isInteger(n) && n >= min))
    throw new Error(
      `${cmd}: --${name} must be ${min === 1 ? 'a positive integer' : `an integer >= ${min}`}, got '${v}'`,
    );
  return n;
}

/** The sampling flags of generate, regenerate, extend and eval gen (parseArgs form). */
export const SAMPLING_OPTIONS = {
  guidance: { type: 'string' },
  'guidance-until': { type: 'string' },
  'noise-correlation': { type: 'string' },
} as const;

/**
 * `--guidance W` (a scale in [0, MAX_GUIDANCE]), `--guidance-until T` (guide only while t > T, in
 * [0, 1]) and `--noise-correlation R` (the starting noise's correlation between a shot's latent
 * frames, in [0, 1)), checked with the pipeline's own rules; an empty or non-numeric value is
 * refused naming the command and the flag. Undefined: not given (the caller's default applies).
 */
export function samplingOptions(
  cmd: string,
  values: {
    readonly guidance?: string;
    readonly 'guidance-until'?: string;
    readonly 'noise-correlation'?: string;
  },
): { guidance?: number; guidanceUntil?: number; noiseCorrelation?: number } {
  const parse = (name: string, v: string | undefined, ok: (n: number) => boolean, range: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(v.trim() !== '' && Number.isFinite(n) && ok(n)))
      throw new Error(`${cmd}: --${name} must be a number in ${range}, got '${v}'`);
    return n;
  };
  return {
    guidance: parse('guidance', values.guidance, checkGuidance, `[0, ${MAX_GUIDANCE}]`),
    guidanceUntil: parse('guidance-until', values['guidance-until'], checkGuidanceUntil, '[0, 1]'),
    noiseCorrelation: parse(
      'noise-correlation',
      values['noise-correlation'],
      checkNoiseCorrelation,
      '[0, 1)',
    ),
  };
}

/** `--name 4G` / `1500M` / `2.5G` as bytes; undefined when the option was not given. */
export function memorySize(cmd: string, name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([MG])$/i.exec(v.trim());
  const bytes = m ? Number(m[1]) * 2 ** (m[2].toUpperCase() === 'G' ? 30 : 20) : Number.NaN;
  if (!(bytes > 0)) throw new Error(`${cmd}: --${name} must be a size like 4G or 1500M, got '${v}'`);
  return bytes;
}

/** The options every `moga train <model>` command takes (parseArgs form). */
export const RECIPE_OPTIONS = {
  config: { type: 'string' },
  out: { type: 'string' },
  work: { type: 'string' },
  steps: { type: 'string' },
  'max-minutes': { type: 'string' },
  resume: { type: 'boolean' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Reads a JSON recipe (the caller checks its fields). */
export function readRecipe<T>(cmd: string, path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${cmd}: cannot read recipe ${path}: ${(e as Error).message}`);
  }
}

interface RecipeFlags {
  readonly steps?: string;
  readonly 'max-minutes'?: string;
  readonly out?: string;
  readonly work?: string;
  readonly resume?: boolean;
}

/** The recipe at `path` with the RECIPE_OPTIONS flags given on the command line put over it. */
export function recipeWithFlags<
  R extends { steps: number; maxMinutes: number; out: string; work: string; resume?: boolean },
>(cmd: string, path: string, flags: RecipeFlags): R {
  const file = readRecipe<R>(cmd, path);
  return {
    ...file,
    steps: positiveNumber(cmd, 'steps', flags.steps) ?? file.steps,
    maxMinutes: positiveNumber(cmd, 'max-minutes', flags['max-minutes']) ?? file.maxMinutes,
    out: flags.out ?? file.out,
    work: flags.work ?? file.work,
    resume: flags.resume ?? file.resume,
  };
}
