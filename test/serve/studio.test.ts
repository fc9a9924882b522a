/**
 * The studio page in a real browser (Debian's Chromium through playwright-core; no browser
 * download): the compiled `moga serve` with the micro model, a two-shot story written in the editor
 * (shots added, duplicated, moved and removed on the way; an unknown word underlined by the
 * server's check), submitted with router maps; the per-stage progress runs to the end, the
 * <video>'s duration is the story's length within two frames, the shot markers sit at the cut, the
 * report and the router maps are shown. The model has dit.conditioning, so the finished job lists
 * its shots with a Regenerate button: shot 2 regenerated with a new caption opens a new job that
 * names its source and finishes; with a server that cannot regenerate (its health answer replaced)
 * the buttons are not there. Screenshots go to a temp folder; with MOGA_SCREENSHOTS=1 they replace
 * the README's docs/img/studio-*.png (so a plain test run leaves the tree clean).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { debianProgram } from '../helpers/debian-package.js';
import { microModelDir, spawnServer, waitFor } from './helpers.js';

const built = ['dist/studio/index.html', 'dist/studio/studio.js', 'dist/src/cli/main.js'];
const browserFound = debianProgram('chromium', '/usr/bin/chromium');
const IMG = process.env.MOGA_SCREENSHOTS === '1' ? 'docs/img' : mkdtempSync(join(tmpdir(), 'moga-studio-'));

/** The DOM fields the test reads inside the page (the test itself is compiled without the DOM lib). */
interface Media {
  duration: number;
  error: { code: number; message: string } | null;
  addEventListener(type: string, f: () => void): void;
}
interface Img {
  complete: boolean;
  naturalWidth: number;
  src: string;
}

describe('studio in a browser', { skip: browserFound.skip }, () => {
  let dir: string;
  let server: { child: ChildProcess; url: string; stderr: () => string };
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    for (const f of built) assert.ok(existsSync(f), `${f} is missing: run npm run build first`);
    const m = microModelDir('studio', { conditioning: true });
    dir = m.dir;
    server = await spawnServer(['--data', join(dir, 'data'), '--model', m.model, '--backend', 'ref'], {
      compiled: true,
    });
    browser = await chromium.launch({
      executablePath: browserFound.skip === undefined ? browserFound.path : undefined,
      args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // a failed request is logged to the console too: those are checked by their response instead
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    // the only refusals the test provokes: the check of the bad seconds (400); and the browser's own favicon
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (
        r.status() >= 400 &&
        !(path === '/api/stories/check' && r.status() === 400) &&
        path !== '/favicon.ico'
      )
        pageErrors.push(`${r.status()} ${path}`);
    });
  });

  after(async () => {
    await browser?.close();
    server?.child.kill('SIGTERM');
    if (server) await new Promise((r) => server.child.once('exit', r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const field = (name: string) => page.locator(`[data-field="${name}"]`);
  const shotCount = () => page.locator('li.shot').count();

  test('write a two-shot story, generate it, watch it, open its router maps', async () => {
    await page.goto(server.url);
    await page.locator('#submit').waitFor({ timeout: 10_000 });
    // the page is served with a policy that keeps it to this server
    const head = await page.request.get(server.url);
    assert.match(head.headers()['content-security-policy'] ?? '', /default-src 'none'/, 'studio CSP header');

    await field('story.title').fill('Circle, two shots');
    await field('story.global').fill('a story in 2 shots with a red circle');
    await field('story.width').fill('64');
    await field('story.height').fill('32');
    await field('story.fps').fill('24');
    await field('story.shots[0].caption').fill('a red circle drifts right across a blue wall, wide shot');
    await field('story.shots[0].seconds').fill('0.5');
    // duplicate shot 1, add a fourth, move it up, then remove both extras
    await page.locator('li.shot[data-shot="0"] button[title="duplicate"]').click();
    await page.locator('#add-shot').click();
    assert.equal(await shotCount(), 4, 'four shots after duplicate and add');
    await page.locator('li.shot[data-shot="3"] button[title="move up"]').click();
    assert.equal(await field('story.shots[2].caption').inputValue(), '', 'the new shot moved to third place');
    assert.equal(
      await page.locator('[data-testid="timeline"] .block').count(),
      4,
      'timeline: a block per shot',
    );
    await page.locator('li.shot[data-shot="2"] button[title="remove"]').click();
    await page.locator('li.shot[data-shot="1"] button[title="remove"]').click();
    assert.equal(await shotCount(), 2, 'back to two shots');
    await field('story.shots[1].caption').fill(
      'the circle returns and rests on a pink floor, close-up, zorblax',
    );
    await field('story.shots[1].seconds').fill('0.5');

    // the server's check: the word the model does not know is underlined under its caption
    const unknown = page.locator('li.shot[data-shot="1"] u.unknown');
    await unknown.waitFor({ timeout: 10_000 });
    assert.equal((await unknown.textContent())?.trim(), 'zorblax', 'unknown word underlined');
    // a bad value gets the server's message and its field marked
    await field('story.shots[0].seconds').fill('-2');
    await page.locator('[data-field="story.shots[0].seconds"].invalid').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('[data-testid="check"]').innerText(), /story\.shots\[0\]\.seconds: -2/);
    await field('story.shots[0].seconds').fill('0.5');
    await field('story.shots[1].caption').fill('the circle returns and rests on a pink floor, close-up');
    await page.locator('[data-testid="check"].ok').waitFor({ timeout: 10_000 });
    assert.match(
      await page.locator('[data-testid="check"]').innerText(),
      /25 frames/,
      'check: 1 s at 24 fps',
    );

    await field('seed').fill('7');
    await field('steps').fill('2');
    await field('maps').check();
    mkdirSync(IMG, { recursive: true });
    await page.locator('#editor').screenshot({ path: join(IMG, 'studio-editor.png') });

    await page.locator('#submit').click();
    const status = page.locator('[data-testid="status"]');
    await page.locator('[data-testid="status"].done').waitFor({ timeout: 60_000 });
    assert.equal(await status.innerText(), 'done', `job status (server log: ${server.stderr().slice(-500)})`);
    // every stage's bar is full; the sampler's says its two steps
    for (const stage of ['text', 'sample', 'decode'])
      assert.equal(
        await page
          .locator(`progress[data-stage="${stage}"]`)
          .evaluate((p) => (p as unknown as { value: number }).value),
        1,
        `${stage} progress at the end`,
      );
    assert.match(await page.locator('[data-testid="progress"]').innerText(), /2\/2 steps/, 'sampler steps');

    // the video: its duration is the story's (1 s) within two frames; a marker per shot, the second at the cut
    const video = page.locator('[data-testid="video"]');
    const duration = await video.evaluate(
      (v) =>
        new Promise<number>((res, rej) => {
          const m = v as unknown as Media;
          if (Number.isFinite(m.duration) && m.duration > 0) return res(m.duration);
          m.addEventListener('loadedmetadata', () => res(m.duration));
          m.addEventListener('error', () =>
            rej(new Error(`video error ${m.error?.code}: ${m.error?.message}`)),
          );
        }),
    );
    assert.ok(Math.abs(duration - 1) <= 2 / 24 + 1e-3, `video duration ${duration} s, story 1 s`);
    const markers = page.locator('.markers .marker');
    assert.equal(await markers.count(), 2, 'a marker per shot');
    const left = await markers
      .nth(1)
      .evaluate((m) => Number.parseFloat((m as unknown as { style: { left: string } }).style.left));
    assert.ok(Math.abs(left - (100 * 0.5) / duration) < 0.5, `second marker at ${left} %`);
    assert.ok(
      await page
        .locator('[data-testid="sheet"]')
        .evaluate((i) => (i as unknown as Img).complete && (i as unknown as Img).naturalWidth > 0),
      'contact sheet loaded',
    );
    assert.match(
      await page.locator('[data-testid="timings"]').innerText(),
      /sample/,
      'report: time per stage',
    );
    assert.match(await page.locator('[data-testid="report"]').innerText(), /frames\s+25/, 'report: frames');

    // the router maps: a picture per layer and latent frame, the histogram, the share table
    const maps = page.locator('[data-testid="maps"]');
    await maps.scrollIntoViewIfNeeded();
    const map = page.locator('[data-testid="map"]');
    await page.waitForFunction(
      `(() => { const i = document.querySelector('[data-testid="map"]'); return i && i.complete && i.naturalWidth > 0; })()`,
    );
    const first = await map.getAttribute('src');
    assert.match(first ?? '', /maps\/layer-0-frame-0000\.png$/, 'first map');
    const index = JSON.parse(
      await (await page.request.get(`${server.url}/api/jobs/${first!.split('/')[3]}/maps`)).text(),
    );
    assert.equal(
      await page.locator('[data-testid="histogram"] rect').count(),
      index.groups,
      'a histogram bar per group',
    );
    assert.equal(
      await page.locator('[data-testid="share"] tr').count(),
      index.groups + 1,
      'a share row per group',
    );
    await page.locator('[data-testid="map-frame"]').fill('1');
    await page.waitForFunction(
      `document.querySelector('[data-testid="map"]').src.endsWith('frame-0001.png')`,
    );
    await page.locator('#job').screenshot({ path: join(IMG, 'studio-maps.png') });

    // the job list has it, done
    assert.match(await page.locator('#jobs li.job.done').innerText(), /Circle, two shots/, 'job list');
    for (const f of ['studio-editor.png', 'studio-maps.png'])
      assert.ok(readFileSync(join(IMG, f)).length > 1000, `${f} written`);
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });

  test("regenerate a shot from the finished job's shot list; the new job is followed to the end", async () => {
    const source = page.url().split('#')[1];
    assert.match(source ?? '', /^[0-9a-f]{16}$/, 'the finished job is open');
    const list = page.locator('[data-testid="shots"] li');
    assert.equal(await list.count(), 2, 'a row per shot');
    const caption = page.locator('[data-testid="regen-caption"][data-shot="1"]');
    assert.equal(
      await caption.inputValue(),
      'the circle returns and rests on a pink floor, close-up',
      "the shot's caption, editable",
    );
    await caption.fill('a white star spins in front of a navy sky');
    await page.locator('[data-testid="regenerate"][data-shot="1"]').click();
    const id = await waitFor('the new job to open', () => {
      const h = page.url().split('#')[1];
      return h && h !== source ? h : undefined;
    });
    const from = page.locator('[data-testid="from"]');
    await from.waitFor({ timeout: 10_000 });
    assert.match(await from.innerText(), new RegExp(`shot 2 regenerated from job ${source}`));
    await page.locator('[data-testid="status"].done').waitFor({ timeout: 60_000 });
    const job = JSON.parse(await (await page.request.get(`${server.url}/api/jobs/${id}`)).text());
    assert.deepEqual(job.from, {
      job: source,
      shots: [1],
      captions: { 1: 'a white star spins in front of a navy sky' },
    });
    // the new job shows like any other: its video, and its own shots to regenerate again
    await page.locator('[data-testid="video"]').waitFor();
    await page.locator('[data-testid="shots"]').waitFor();
    assert.equal(
      await page.locator('[data-testid="regen-caption"][data-shot="1"]').inputValue(),
      'a white star spins in front of a navy sky',
    );
    assert.equal(await page.locator('#jobs li.job.done').count(), 2, 'both jobs listed, done');
    // the job view from its title to the shot list (the report below is in studio-maps.png)
    await page.evaluate('scrollTo(0, 0)');
    const top = (await page.locator('#job').boundingBox())!;
    const end = (await page.locator('.shots-regen').boundingBox())!;
    await page.screenshot({
      path: join(IMG, 'studio-regenerate.png'),
      fullPage: true,
      clip: { x: top.x, y: top.y, width: top.width, height: end.y + end.height + 12 - top.y },
    });

    // a server whose model cannot regenerate: no shot list, no button
    await page.route('**/api/health', async (route) => {
      const r = await route.fetch();
      await route.fulfill({ response: r, json: { ...(await r.json()), canRegenerate: false } });
    });
    await page.reload();
    await page.locator('[data-testid="status"].done').waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="video"]').waitFor();
    await page.locator('[data-testid="sheet"]').waitFor();
    assert.equal(await page.locator('[data-testid="regenerate"]').count(), 0, 'no Regenerate button');
    assert.equal(await page.locator('[data-testid="shots"]').count(), 0, 'no shot list');
    await page.unroute('**/api/health');
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });
});
