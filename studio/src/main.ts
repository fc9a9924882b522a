/**
 * The studio page of `moga serve`: the story editor (checked by the server as you type), the open
 * job and the job list. Plain data in, DOM out: each view is a function of its module.
 */
import { ApiError, check, jobs, setToken, submit, token } from './api.js';
import { fill, h } from './dom.js';
import { editor } from './editor.js';
import { jobView } from './job.js';
import { jobList } from './jobs.js';
import { timeline } from './timeline.js';
import type { CheckResult, Draft, Health, JobRecord } from './types.js';

const draft: Draft = {
  story: {
    title: 'A red circle',
    fps: 24,
    width: 160,
    height: 96,
    seed: 1,
    global: 'a story in 2 shots with a red circle',
    shots: [
      { caption: 'a red circle drifts right across a blue wall, wide shot', seconds: 2 },
      { caption: 'the circle returns and rests on a pink floor, close-up', seconds: 2 },
    ],
  },
  steps: 8,
  guidance: 1,
  maps: false,
};

const $ = (id: string) => document.getElementById(id)!;
let checked: CheckResult | null = null;
let checking: AbortController | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let open: { id: string; ctl: AbortController } | undefined;
let all: JobRecord[] = [];
let canRegenerate = false;

const drawTimeline = () => timeline($('timeline'), draft.story, checked);

async function runCheck(): Promise<void> {
  checking?.abort();
  const ctl = new AbortController();
  checking = ctl;
  view.show(null);
  try {
    const r = await check(draft, ctl.signal);
    if (ctl.signal.aborted) return;
    checked = r;
    view.show(r);
  } catch (e) {
    if (ctl.signal.aborted) return;
    checked = null;
    view.show(e instanceof ApiError ? e : new ApiError(0, (e as Error).message));
  }
  drawTimeline();
}

function changed(): void {
  drawTimeline();
  clearTimeout(timer);
  timer = setTimeout(runCheck, 250);
}

const view = editor($('editor'), draft, changed, async () => {
  try {
    const job = await submit(draft);
    view.say(`submitted: job ${job.id}`);
    openJob(job.id);
  } catch (e) {
    view.show(e instanceof ApiError ? e : new ApiError(0, (e as Error).message));
    view.say(`not submitted: ${(e as Error).message}`, true);
  }
});

function drawJobs(): void {
  jobList($('jobs'), all, open?.id, openJob);
}

async function refreshJobs(): Promise<void> {
  try {
    all = await jobs();
    drawJobs();
  } catch (e) {
    fill($('jobs'), h('p', { class: 'bad' }, (e as Error).message));
  }
}

function openJob(id: string): void {
  open?.ctl.abort();
  const ctl = new AbortController();
  open = { id, ctl };
  history.replaceState(null, '', `#${id}`);
  drawJobs();
  jobView(
    $('job'),
    id,
    ctl.signal,
    (job) => {
      const k = all.findIndex((j) => j.id === job.id);
      if (k >= 0) all[k] = job;
      else all.push(job);
      drawJobs();
    },
    { canRegenerate, open: openJob },
  ).catch((e: Error) => {
    if (!ctl.signal.aborted) $('job').append(h('p', { class: 'bad' }, e.message));
  });
}

/** Asks for the server's token when it wants one (kept for this tab only). */
function askToken(why: string): void {
  const input = h('input', { type: 'password', placeholder: 'token', value: token() });
  fill(
    $('editor'),
    h('p', {}, why),
    input,
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          setToken(input.value.trim());
          location.reload();
        },
      },
      'use token',
    ),
  );
}

async function start(): Promise<void> {
  const r = await fetch('/api/health', {
    headers: token() ? { authorization: `Bearer ${token()}` } : {},
  });
  if (r.status === 401) return askToken('This server needs its token (moga serve --token).');
  const health = (await r.json()) as Health;
  $('health').textContent = `moga ${health.version}`;
  canRegenerate = health.canRegenerate === true;
  view.render();
  changed();
  await refreshJobs();
  const id = location.hash.slice(1);
  if (/^[0-9a-f]{16}$/.test(id)) openJob(id);
  setInterval(refreshJobs, 5000);
}

start().catch((e: Error) => fill($('editor'), h('p', { class: 'bad' }, e.message)));
