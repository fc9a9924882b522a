/** The job list: every job, newest first, with its status; click one to open it. */
import { fill, h, seconds } from './dom.js';
import type { JobRecord } from './types.js';

export function jobList(
  root: HTMLElement,
  jobs: readonly JobRecord[],
  open: string | undefined,
  select: (id: string) => void,
): void {
  fill(
    root,
    h('h2', {}, 'Jobs'),
    jobs.length === 0 ? h('p', { class: 'muted' }, 'none yet') : null,
    h(
      'ul',
      { class: 'jobs' },
      [...jobs]
        .reverse()
        .map((j) =>
          h(
            'li',
            { class: `job ${j.status}${j.id === open ? ' open' : ''}`, 'data-job': j.id },
            h(
              'button',
              { type: 'button', onclick: () => select(j.id) },
              h('b', {}, j.title || '(untitled)'),
              h('span', { class: `status ${j.status}` }, j.cancelling ? 'stopping' : j.status),
              h(
                'small',
                {},
                `${j.shots} shot(s), ${seconds(j.seconds)}${j.options.maps ? ', maps' : ''} · ${j.id}`,
              ),
            ),
          ),
        ),
    ),
  );
}
