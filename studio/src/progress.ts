/** Per-stage progress: one bar per stage of generate (text, sample, decode), as the CLI draws them. */
import { fill, h, seconds } from './dom.js';
import type { ProgressEvent } from './types.js';

export const STAGES = ['text', 'sample', 'decode'];

export function progress(root: HTMLElement, latest: ReadonlyMap<string, ProgressEvent>): void {
  fill(
    root,
    STAGES.map((stage) => {
      const p = latest.get(stage);
      const frac = p && p.total > 0 ? p.done / p.total : 0;
      const meter = h('progress', { max: '1', value: String(frac), 'data-stage': stage });
      return h(
        'div',
        { class: `stage${p && p.done === p.total ? ' finished' : ''}` },
        h('span', { class: 'name' }, stage),
        meter,
        h(
          'span',
          { class: 'count' },
          p
            ? `${p.done}/${p.total} ${p.unit}` +
                (p.done < p.total
                  ? ` · ${p.rate.toFixed(2)}/s · ${p.eta === null ? 'eta ?' : `${seconds(p.eta)} left`}`
                  : ` · ${seconds(p.elapsed)}`)
            : 'waiting',
        ),
      );
    }),
  );
}
