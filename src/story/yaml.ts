/**
 * Story files in YAML: the same fields and checks as JSON (parseStory), with every error placed
 * by line: "story.yaml:7: shots[1].seconds: -2 is out of range [...]". Parsed with `yaml`, which
 * keeps each node's source range.
 */
import { isNode, LineCounter, parseDocument } from 'yaml';
import { type FieldPath, formatPath, parseStory, type Story, StoryError } from './story.js';

export function parseYamlStory(text: string, source = 'story.yaml'): Story {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax)
    throw new StoryError(
      `${source}:${lines.linePos(syntax.pos[0]).line}`,
      `not valid YAML: ${syntax.message.split('\n')[0]}`,
    );
  try {
    return parseStory(doc.toJS(), source);
  } catch (e) {
    if (!(e instanceof StoryError)) throw e;
    const where = e.path.length ? `: ${formatPath(e.path)}` : '';
    throw new StoryError(`${source}:${lineOf(doc, lines, e.path)}${where}`, e.problem, e.path);
  }
}

/** The line of the deepest node on `path` that exists (a missing field: its parent's line). */
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: FieldPath): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}
