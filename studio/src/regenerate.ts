/**
 * A finished job's shots, each with its caption (editable) and a Regenerate button, shown only when
 * the server's model can regenerate (/api/health canRegenerate: it has dit.conditioning). A click
 * asks for a new job that keeps every other shot of this one exactly (POST
 * /api/jobs/:id/regenerate, with the caption when it was changed) and opens it, followed like any
 * other job. A job that saved no latent says why its shots cannot be regenerated.
 */
import { ApiError, regenerate } from './api.js';
import { fill, h, seconds } from './dom.js';
import type { JobRecord, Story } from './types.js';

export function shotList(
  root: HTMLElement,
  job: JobRecord,
  story: Story,
  opened: (id: string) => void,
): void {
  if (!job.files.includes('latent')) {
    fill(
      root,
      h('h3', {}, 'Shots'),
      h(
        'p',
        { class: 'muted', 'data-testid': 'no-latent' },
        'This job saved no latent (it was rendered before the server saved one), so its shots cannot be regenerated.',
      ),
    );
    return;
  }
  const rows = story.shots.map((s, i) => {
    const caption = h('input', {
      type: 'text',
      value: s.caption,
      'data-testid': 'regen-caption',
      'data-shot': i,
      'aria-label': `shot ${i + 1} caption`,
    });
    const said = h('span', { class: 'said' });
    const button = h(
      'button',
      {
        type: 'button',
        'data-testid': 'regenerate',
        'data-shot': i,
        title: `generate shot ${i + 1} anew, every other shot kept as it is`,
        onclick: async () => {
          button.disabled = true;
          said.textContent = '';
          said.className = 'said';
          const text = caption.value.trim();
          try {
            const next = await regenerate(job.id, {
              shots: [i],
              ...(text && text !== s.caption ? { captions: { [i]: text } } : {}),
            });
            opened(next.id);
          } catch (e) {
            said.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
            said.className = 'said bad';
            button.disabled = false;
          }
        },
      },
      'Regenerate',
    );
    return h(
      'li',
      { class: 'regen', 'data-shot': i },
      h('span', { class: 'n' }, i + 1),
      caption,
      h('small', {}, seconds(s.seconds)),
      button,
      said,
    );
  });
  fill(
    root,
    h('h3', {}, 'Shots'),
    h(
      'p',
      { class: 'muted' },
      'Regenerate one shot (with a new caption if you like); the others stay exactly as they are.',
    ),
    h('ol', { class: 'regen-shots', 'data-testid': 'shots' }, rows),
  );
}
