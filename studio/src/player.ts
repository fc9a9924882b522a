/**
 * The finished video with its shots marked: a strip under the player with one marker per shot
 * start (click to seek there), placed once the video's duration is known, and the shot now
 * playing named.
 */
import { mediaUrl } from './api.js';
import { fill, h } from './dom.js';
import type { Story } from './types.js';

/** Each shot's first frame's time: frames start at round(t * fps) (story/story.ts, storyFrames). */
export function shotStarts(story: Story): number[] {
  let t = 0;
  return story.shots.map((s) => {
    const at = Math.round(t * story.fps) / story.fps;
    t += s.seconds;
    return at;
  });
}

export async function player(root: HTMLElement, id: string, story: Story): Promise<void> {
  const starts = shotStarts(story);
  const video = h('video', { controls: true, preload: 'metadata', 'data-testid': 'video', loop: true });
  const strip = h('div', { class: 'markers' });
  const now = h('span', { class: 'now' });
  const place = () => {
    const d = video.duration;
    if (!Number.isFinite(d) || d <= 0) return;
    fill(
      strip,
      starts.map((t, i) => {
        const m = h(
          'button',
          {
            type: 'button',
            class: `marker c${i % 6}`,
            title: story.shots[i].caption,
            'data-shot': i,
            onclick: () => {
              video.currentTime = t;
            },
          },
          i + 1,
        );
        m.style.left = `${(100 * t) / d}%`;
        return m;
      }),
    );
  };
  video.addEventListener('loadedmetadata', place);
  video.addEventListener('timeupdate', () => {
    let s = 0;
    while (s + 1 < starts.length && video.currentTime >= starts[s + 1]) s++;
    now.textContent = `shot ${s + 1}: ${story.shots[s].caption}`;
  });
  fill(root, h('h3', {}, 'Video'), video, strip, now);
  video.src = await mediaUrl(`/api/jobs/${id}/video.mp4`);
}
