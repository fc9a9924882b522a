/**
 * The caption grammar (every caption the world emits comes from here):
 *
 *   caption    := main_clause [", and " other_clause] ", " framing
 *   main_clause:= new_np " " verb " " prep " " background
 *               | "the " shape " returns and " verb " " prep " " background      (recall)
 *   other_clause := new_np " " verb
 *   new_np     := ("a " | "an ") colour [" " pattern] " " shape          (pattern omitted when plain)
 *   verb       := "drifts " (left|right|up|down) | "bounces" | "spins" | "grows" | "shrinks" | "rests"
 *   prep       := across (drifts) | on (bounces, rests) | "in front of" (spins) | against (grows, shrinks)
 *   background := "a " bgcolour " wall" | "a " bgcolour " striped wall" | "a " bgcolour " sky"
 *               | "a " bgcolour " checkered floor"
 *   framing    := "wide shot" | "close-up" | "slow pan left" | "slow pan right"
 *   global     := "a story in " n " shot(s) with " new_np {", " new_np} [" and " new_np]
 *
 * e.g. "a green dotted star drifts right across a yellow wall, close-up";
 *      "the star returns and spins in front of a grey sky, wide shot".
 */
import type { Background, Character, Framing, Motion, Shot } from './types.js';
import { BACKGROUND_COLOURS, COLOURS, DIRECTIONS, PATTERNS, SHAPES } from './types.js';

export function nounPhrase(c: Character): string {
  const article = /^[aeiou]/.test(c.colour) ? 'an' : 'a'; // "an orange star"
  return c.pattern === 'plain'
    ? `${article} ${c.colour} ${c.shape}`
    : `${article} ${c.colour} ${c.pattern} ${c.shape}`;
}

export function verbOf(m: Motion): string {
  switch (m.kind) {
    case 'move':
      return `drifts ${m.dir}`;
    case 'bounce':
      return 'bounces';
    case 'spin':
      return 'spins';
    case 'grow':
      return 'grows';
    case 'shrink':
      return 'shrinks';
    case 'stay':
      return 'rests';
  }
}

export function prepositionOf(m: Motion): string {
  switch (m.kind) {
    case 'move':
      return 'across';
    case 'bounce':
    case 'stay':
      return 'on';
    case 'spin':
      return 'in front of';
    case 'grow':
    case 'shrink':
      return 'against';
  }
}

export function backgroundPhrase(b: Background): string {
  switch (b.kind) {
    case 'solid':
      return `a ${b.colour} wall`;
    case 'stripes':
      return `a ${b.colour} striped wall`;
    case 'gradient':
      return `a ${b.colour} sky`;
    case 'checker':
      return `a ${b.colour} checkered floor`;
  }
}

export function framingPhrase(f: Framing): string {
  switch (f.kind) {
    case 'wide':
      return 'wide shot';
    case 'close-up':
      return 'close-up';
    case 'pan':
      return f.x1 >= f.x0 ? 'slow pan right' : 'slow pan left';
  }
}

/** The caption of a shot whose objects, background, framing and recall are already decided. */
export function shotCaption(shot: Omit<Shot, 'caption'>, characters: readonly Character[]): string {
  const [main, ...others] = shot.objects;
  const mc = characters[main.character];
  const subject = shot.recall ? `the ${mc.shape} returns and` : nounPhrase(mc);
  let text = `${subject} ${verbOf(main.motion)} ${prepositionOf(main.motion)} ${backgroundPhrase(shot.background)}`;
  for (const o of others) text += `, and ${nounPhrase(characters[o.character])} ${verbOf(o.motion)}`;
  return `${text}, ${framingPhrase(shot.framing)}`;
}

export function globalCaption(shots: number, characters: readonly Character[]): string {
  const nps = characters.map(nounPhrase);
  const list = nps.length <= 1 ? nps.join('') : `${nps.slice(0, -1).join(', ')} and ${nps[nps.length - 1]}`;
  return `a story in ${shots} ${shots === 1 ? 'shot' : 'shots'} with ${list}`;
}

const NUMBERS = Array.from({ length: 12 }, (_, i) => String(i + 1));

/**
 * Every word (space-separated token, punctuation split off) the grammar can emit, sorted. The
 * tokenizer's vocabulary is checked against this list by a test, so the two cannot drift apart.
 */
export function grammarWords(): string[] {
  const words = new Set<string>([
    ...'a an the returns and drifts bounces spins grows shrinks rests across on in front of against'.split(
      ' ',
    ),
    ...'wall striped sky checkered floor wide shot close-up slow pan story shots with'.split(' '),
    ',',
    ...SHAPES,
    ...COLOURS,
    ...PATTERNS.filter((p) => p !== 'plain'),
    ...DIRECTIONS,
    ...BACKGROUND_COLOURS,
    ...NUMBERS,
  ]);
  return [...words].sort();
}
