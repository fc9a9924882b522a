/**
 * The word vocabulary, version 1: every word the world's caption grammar emits (see
 * src/data/world/caption.ts). Frozen on purpose: token ids are baked into trained text encoders,
 * so a new word is appended in a new version, never inserted. A test checks that the grammar
 * emits no word missing from here.
 */
// biome-ignore format: a word list reads best packed
export const VOCAB_V1: readonly string[] = Object.freeze([
  ',', '1', '10', '11', '12', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'across', 'against', 'an', 'and',
  'blue', 'bounces', 'brown', 'checkered', 'circle', 'close-up', 'cross', 'cyan', 'diamond', 'dotted', 'down',
  'drifts', 'floor', 'front', 'green', 'grey', 'grows', 'heart', 'hexagon', 'in', 'left', 'lime', 'navy', 'of',
  'on', 'orange', 'pan', 'pink', 'purple', 'red', 'rests', 'returns', 'right', 'shot', 'shots', 'shrinks', 'sky',
  'slow', 'spins', 'square', 'star', 'story', 'striped', 'teal', 'the', 'triangle', 'up', 'wall', 'white', 'wide',
  'with', 'yellow',
]);
