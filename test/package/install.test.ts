/**
 * moga as a dependency, the way a user gets it: `npm pack` of this checkout (built by `npm test`
 * first; packed with --ignore-scripts so prepack does not rebuild), installed into a fresh project
 * with no network (`npm install --offline`: the tarball plus yaml, koffi and @ffmpeg-installer from the
 * npm cache, which `npm ci` filled, pinned by a lockfile made from ours), then used from there:
 * a strict TypeScript program typechecks against the installed types and runs in plain Node
 * without setBackend, and `npx moga --version | --help | generate | regenerate | demo` run from the
 * project's folder, with the bundled model, writing real MP4s. (`npx --no --`: never fetch, and pass
 * --version on to moga instead of npx.)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import { countFrames } from '../../src/video/reader.js';

const REPO = resolve('.');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
let dir: string;
let project: string;
let packed: { filename: string; size: number; files: { path: string }[] };

const TWO_SECONDS = {
  title: 'installed',
  fps: 24,
  width: 160,
  height: 96,
  seed: 3,
  shots: [
    { caption: 'a red circle drifts right across a blue wall, wide shot', seconds: 0.5 },
    { caption: 'a white star spins in front of a navy sky, close-up', seconds: 0.5 },
  ],
};

const TWO_SECONDS_YAML = `title: installed
width: 160
height: 96
seed: 3
shots:
  - caption: a red circle drifts right across a blue wall, wide shot
    seconds: 0.5
  - caption: a white star spins in front of a navy sky, close-up
    seconds: 0.5
`;

/** The child's environment without npm's own variables (npm test sets npm_config_local_prefix=REPO...). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

function sh(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

function ok(cmd: string, args: string[], cwd: string): string {
  const r = sh(cmd, args, cwd);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** The newest .ts under src/: dist must be at least as new, or this would test stale code. */
function newestSource(d = 'src'): number {
  let t = 0;
  for (const f of readdirSync(d, { recursive: true }).map(String))
    if (f.endsWith('.ts') && !f.includes('assembly')) t = Math.max(t, statSync(join(d, f)).mtimeMs);
  return t;
}

/** A lockfile pinning the tarball, and our runtime dependencies (with theirs) as our own lockfile has them. */
function lockfile(tarball: string, integrity: string): object {
  type Entry = {
    version: string;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const ours = JSON.parse(readFileSync('package-lock.json', 'utf8')).packages as Record<string, Entry>;
  const deps: [string, Entry & { resolved: string }][] = [];
  const todo = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies });
  for (let name = todo.pop(); name !== undefined; name = todo.pop()) {
    const key = `node_modules/${name}`;
    if (!ours[key] || deps.some(([k]) => k === key)) continue;
    // the tarball's address, which our lockfile leaves out (omit-lockfile-registry-resolved), so
    // npm needs no registry document to find it
    const resolved = `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${ours[key].version}.tgz`;
    deps.push([key, { resolved, ...ours[key] }]);
    todo.push(...Object.keys({ ...ours[key].dependencies, ...ours[key].optionalDependencies }));
  }
  return {
    name: 'user-project',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'user-project', version: '1.0.0', dependencies: { moga: `file:${tarball}` } },
      'node_modules/moga': {
        version: pkg.version,
        resolved: `file:${tarball}`,
        integrity,
        license: pkg.license,
        dependencies: pkg.dependencies,
        optionalDependencies: pkg.optionalDependencies,
        bin: { moga: 'bin/moga.js' },
        engines: pkg.engines,
      },
      ...Object.fromEntries(deps),
    },
  };
}

before(() => {
  const built = 'dist/src/cli/main.js';
  assert.ok(
    existsSync(built) && statSync(built).mtimeMs >= newestSource(),
    `${built} is missing or older than src/: run npm run build (npm test does)`,
  );
  dir = mkdtempSync(join(tmpdir(), 'moga-install-'));
  packed = JSON.parse(ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO))[0];
  const tarball = join(dir, packed.filename);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  project = join(dir, 'project');
  ok('mkdir', [project], dir);
  const manifest = { name: 'user-project', version: '1.0.0', private: true, type: 'module' };
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ ...manifest, dependencies: { moga: `file:${tarball}` } }),
  );
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockfile(tarball, integrity)));
  ok('npm', ['install', '--offline', '--no-audit', '--no-fund'], project);
  writeFileSync(join(project, 'two.story.json'), JSON.stringify(TWO_SECONDS));
  writeFileSync(join(project, 'two.story.yaml'), TWO_SECONDS_YAML);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the tarball holds the compiled code, kernels, models, examples and LICENSE, and nothing else', () => {
  const files = packed.files.map((f) => f.path);
  for (const f of [
    'LICENSE',
    'README.md',
    'package.json',
    'bin/moga.js',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
    'dist/studio/index.html',
    'dist/studio/studio.js',
    'dist/studio/style.css',
    'build/wasm/kernels.wasm',
    'models/dit-tiny/config.json',
    'models/dit-tiny/dit.safetensors',
    'models/vae-small/vae.safetensors',
    'examples/short.story.json',
  ])
    assert.ok(files.includes(f), `${f} is missing from the tarball`);
  const stray = files.filter(
    (f) =>
      /^(src|test|bench|scripts|\.ci|logs|checkpoints|out|dist\/(test|bench))\//.test(f) ||
      f.endsWith('.map'),
  );
  assert.deepEqual(stray, [], 'files a user does not need');
  assert.ok(packed.size < 10 * 2 ** 20, `tarball is ${packed.size} bytes (limit 10 MB)`);
});

test('a strict TypeScript program typechecks against the installed package and runs without setBackend', () => {
  writeFileSync(
    join(project, 'user.ts'),
    `import { createRequire } from 'node:module';
import {
  type AttentionPlan, bundledModel, disposeParams, fromArray, generate, groupedAttention, loadModel, parseStory, plans,
  type Story, StoryError,
} from 'moga';
const own = createRequire(import.meta.url)('moga/package.json') as { version: string };
const plan: AttentionPlan = plans.full(4);
const q = fromArray(new Float32Array(4 * 2 * 8).fill(0.5), [4, 2, 8]);
const attended = groupedAttention(q, q, q, plan);
const story: Story = parseStory({ width: 64, height: 32, shots: [{ caption: 'a red circle rests on a blue wall', seconds: 0.5 }] });
const model = await loadModel(bundledModel());
const result = await generate(story, model, { steps: 2 });
let refused = '';
try {
  parseStory({ shots: [] });
} catch (e) {
  if (e instanceof StoryError) refused = e.message;
}
disposeParams(model.dit.params); // a typed params tree is accepted as is
model.dispose();
console.log(JSON.stringify({ version: own.version, attended: attended.shape, backend: model.backend.name,
  frames: result.frames, video: result.video?.length, refused }));
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        skipLibCheck: false,
        typeRoots: [join(REPO, 'node_modules', '@types')],
        types: ['node'],
        outDir: 'out',
      },
      files: ['user.ts'],
    }),
  );
  ok(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], project);
  const out = JSON.parse(ok(process.execPath, ['out/user.js'], project));
  assert.equal(out.version, pkg.version);
  assert.deepEqual(out.attended, [4, 2, 8]);
  assert.notEqual(out.backend, 'ref', 'the best backend here, not the ref default');
  assert.equal(out.frames, 13);
  assert.equal(out.video, 13);
  assert.match(out.refused, /story\.shots: expected a non-empty array/);
});

test('npx moga --version and --help', () => {
  assert.equal(ok('npx', ['--no', '--', 'moga', '--version'], project).trim(), pkg.version);
  const help = ok('npx', ['--no', '--', 'moga', '--help'], project);
  for (const c of ['demo', 'generate', 'train', 'eval', 'inspect', 'world'])
    assert.match(help, new RegExp(`^  ${c} `, 'm'));
});

test('the installed moga serve serves the studio page from the package', async () => {
  const child = spawn(
    process.execPath,
    ['node_modules/moga/bin/moga.js', 'serve', '--port', '0', '--data', 'serve-data', '--quiet'],
    { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) res(m[1]);
      });
      child.stderr.on('data', (d: Buffer) => (err += d));
      child.once('exit', (code) => rej(new Error(`moga serve exited (${code}): ${err}`)));
    });
    const page = await fetch(url);
    assert.equal(page.status, 200, 'GET / from the installed package');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(
      await page.text(),
      /<script type="module" src="\/studio\/studio.js">/,
      'the page loads its script',
    );
    const script = await fetch(`${url}/studio/studio.js`);
    assert.equal(script.status, 200, 'GET /studio/studio.js');
    assert.ok((await script.text()).length > 1000, 'the bundled script is not empty');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});

test('npx moga generate: a YAML story, the bundled model, from the project folder, a playable MP4', async () => {
  const args = [
    '--no',
    '--',
    'moga',
    'generate',
    '--story',
    'two.story.yaml',
    '--out',
    'two.mp4',
    '--steps',
    '2',
    '--save-latent',
  ];
  const report = JSON.parse(ok('npx', [...args, '--json', '--quiet'], project));
  assert.equal(report.model, join(project, 'node_modules', 'moga', 'models', 'dit-tiny'));
  assert.equal(report.codec, 'vae');
  assert.equal(report.frames, 25);
  assert.equal(await countFrames(join(project, 'two.mp4')), 25);
});

test('npx moga regenerate: the bundled model redoes shot 1 and keeps shot 0 bit for bit', async () => {
  const latentOf = (f: string) => readSafetensors(join(project, f)).tensors.get('latent')!;
  assert.ok(existsSync(join(project, 'two.json')), 'generate --save-latent wrote two.json (the test above)');
  const args = ['regenerate', '--from', 'two.json', '--shots', '1', '--seed', '9', '--out', 'redo.mp4'];
  const report = JSON.parse(ok('npx', ['--no', '--', 'moga', ...args, '--json', '--quiet'], project));
  assert.equal(report.frames, 25);
  assert.equal(await countFrames(join(project, 'redo.mp4')), 25);
  const a = latentOf('two.latent.safetensors');
  const b = latentOf('redo.latent.safetensors');
  assert.deepEqual(b.shape, a.shape);
  // [C, 7, h, w]: the cut at video frame 12 leaves latent frames 0..3 to shot 0, 4..6 to shot 1
  const [C, F, h, w] = a.shape;
  const changed = new Array(F).fill(0);
  for (let c = 0; c < C; c++)
    for (let f = 0; f < F; f++)
      for (let i = 0; i < h * w; i++) {
        const k = (c * F + f) * h * w + i;
        if (a.data[k] !== b.data[k]) changed[f]++;
      }
  assert.deepEqual(changed.slice(0, 4), [0, 0, 0, 0], 'shot 0 kept');
  for (let f = 4; f < F; f++) assert.ok(changed[f] > (C * h * w) / 2, `latent frame ${f} of shot 1 redone`);
});

test('npx moga demo generates with the bundled model (not the ground-truth fallback)', async () => {
  const r = ok(
    'npx',
    [
      '--no',
      '--',
      'moga',
      'demo',
      '--story',
      'node_modules/moga/examples/short.story.json',
      '--steps',
      '1',
      '--json',
    ],
    project,
  );
  const report = JSON.parse(r);
  assert.equal(report.source, 'generated', JSON.stringify(report));
  assert.equal(await countFrames(join(project, 'demo.mp4')), report.frames);
});
