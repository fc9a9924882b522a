/**
 * The timeline: one block per shot, its width its share of the story's length; under it, when the
 * server's check is in, the latent frames with each shot's first one marked (the cut rule's
 * result, which the model actually sees).
 */
import { fill, h, seconds } from './dom.js';
import type { CheckResult, Story } from './types.js';

export function timeline(root: HTMLElement, story: Story, check: CheckResult | null): void {
  const total = story.shots.reduce(
    (a, s) => a + (Number.isFinite(s.seconds) && s.seconds > 0 ? s.seconds : 0),
    0,
  );
  const bar = h('div', { class: 'bar', 'data-testid': 'timeline' });
  story.shots.forEach((s, i) => {
    const block = h(
      'div',
      { class: `block c${i % 6}`, title: s.caption },
      h('b', {}, i + 1),
      ` ${seconds(s.seconds)}`,
    );
    block.style.flexGrow = String(total > 0 && s.seconds > 0 ? s.seconds / total : 0);
    bar.append(block);
  });
  const latent = h('div', { class: 'latent' });
  if (check) {
    const starts = new Set(check.latent.shotStarts);
    for (let k = 0; k < check.latent.frames; k++)
      latent.append(h('span', { class: starts.has(k) ? 'cut' : '', title: `latent frame ${k}` }));
  }
  fill(
    root,
    h('div', { class: 'scale' }, h('span', {}, '0 s'), h('span', {}, seconds(total))),
    bar,
    check ? latent : null,
    check
      ? h(
          'small',
          {},
          `${check.latent.frames} latent frames; shots start at ${check.latent.shotStarts.join(', ')}`,
        )
      : null,
  );
}
