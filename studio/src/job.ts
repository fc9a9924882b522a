/**
 * One job: its status (and a cancel button while it can be cancelled), per-stage progress from the
 * event stream while it runs, then its outputs: the video with shot markers, the contact sheet,
 * the report and, when it was submitted with maps, the router maps. When the server can
 * regenerate shots, a finished job lists its shots, each with a Regenerate button (regenerate.ts);
 * a regenerate job names the job and shots it came from.
 */
import { ApiError, cancel, events, json } from './api.js';
import { fill, h } from './dom.js';
import { maps } from './maps.js';
import { player } from './player.js';
import { progress } from './progress.js';
import { shotList } from './regenerate.js';
import { report } from './report.js';
import { sheet } from './sheet.js';
import type { JobRecord, ProgressEvent, Report, Story } from './types.js';

const FINAL = new Set(['done', 'failed', 'cancelled']);

/** What the job view may do beyond showing the job. */
export interface JobActions {
  /** The server's model can regenerate shots (health's canRegenerate). */
  readonly canRegenerate: boolean;
  /** Opens another job (a regenerate job just made, or the job one came from). */
  readonly open: (id: string) => void;
}

/** Shows job `id` in `root` until `signal` aborts (another job opened); `changed` on each status. */
export async function jobView(
  root: HTMLElement,
  id: string,
  signal: AbortSignal,
  changed: (job: JobRecord) => void,
  actions: JobActions,
): Promise<void> {
  const head = h('div', { class: 'head' });
  const bars = h('div', { class: 'progress', 'data-testid': 'progress' });
  const outputs = h('div', { class: 'outputs' });
  fill(root, head, bars, outputs);
  const latest = new Map<string, ProgressEvent>();

  const status = (job: JobRecord) => {
    fill(
      head,
      h('h2', {}, job.title || '(untitled)'),
      h(
        'span',
        { class: `status ${job.status}`, 'data-testid': 'status' },
        job.cancelling ? 'stopping' : job.status,
      ),
      ' ',
      FINAL.has(job.status) || job.cancelling
        ? null
        : h(
            'button',
            {
              type: 'button',
              onclick: () => cancel(id).catch((e: Error) => alert(e.message)),
            },
            'cancel',
          ),
      job.from
        ? h(
            'p',
            { class: 'muted', 'data-testid': 'from' },
            `shot${job.from.shots.length > 1 ? 's' : ''} ${job.from.shots.map((k) => k + 1).join(', ')} regenerated from job `,
            h(
              'button',
              { type: 'button', class: 'link', onclick: () => actions.open(job.from!.job) },
              job.from.job,
            ),
          )
        : null,
      job.error ? h('p', { class: 'bad' }, job.error) : null,
      job.note ? h('p', { class: 'muted' }, job.note) : null,
    );
    if (job.progress) latest.set(job.progress.stage, job.progress);
    progress(bars, latest);
    changed(job);
  };

  let job = await json<JobRecord>(`/api/jobs/${id}`);
  status(job);
  if (!FINAL.has(job.status)) {
    for await (const e of events(id, signal)) {
      if (e.event === 'progress') {
        const p = e.data as ProgressEvent;
        latest.set(p.stage, p);
        progress(bars, latest);
      } else {
        job = e.data as JobRecord;
        status(job);
      }
    }
  }
  if (signal.aborted || job.status !== 'done') return;
  const video = h('div', { class: 'player' });
  const contact = h('div', {});
  const rep = h('div', {});
  const map = h('div', { class: 'maps', 'data-testid': 'maps' });
  const shots = h('div', { class: 'shots-regen' });
  fill(
    outputs,
    video,
    actions.canRegenerate ? shots : null,
    contact,
    rep,
    job.files.includes('maps') ? map : null,
  );
  const story = await json<Story>(`/api/jobs/${id}/story.json`);
  if (actions.canRegenerate) shotList(shots, job, story, actions.open);
  const shown = [
    player(video, id, story),
    sheet(contact, id),
    json<Report>(`/api/jobs/${id}/report.json`).then((r) => report(rep, r)),
    job.files.includes('maps') ? maps(map, id) : Promise.resolve(),
  ];
  const failed = (await Promise.allSettled(shown)).filter((r) => r.status === 'rejected');
  for (const f of failed)
    outputs.append(h('p', { class: 'bad' }, ((f as PromiseRejectedResult).reason as Error).message));
  if (failed.length && failed.some((f) => !((f as PromiseRejectedResult).reason instanceof ApiError)))
    console.error(failed);
}
