/** The command table: name, one-line description, lazy loader. Add a line per command. */
export const COMMAND_TABLE: Record<
  string,
  { about: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> }
> = {
  demo: {
    about: 'the one-minute demo: examples/minute.story.json -> demo.mp4 with the bundled model',
    load: () => import('./demo.js'),
  },
  generate: {
    about: 'story file in, MP4 out (moga generate --story examples/minute.story.json --out out.mp4)',
    load: () => import('./generate.js'),
  },
  regenerate: {
    about:
      'regenerate some shots of a saved generation, keeping the rest (moga regenerate --from out.json --shots 2 --out new.mp4)',
    load: () => import('./regenerate.js'),
  },
  extend: {
    about:
      'append shots to a saved generation (moga extend --from out.json --story more.json --out longer.mp4)',
    load: () => import('./extend.js'),
  },
  train: {
    about: 'train a model from a recipe (moga train vae --config configs/vae-small.json)',
    load: () => import('./train.js'),
  },
  eval: { about: 'evaluate a committed checkpoint (moga eval vae)', load: () => import('./eval.js') },
  inspect: {
    about: 'list the tensors of a .safetensors file (name, dtype, shape, bytes) from its header',
    load: () => import('./inspect.js'),
  },
  serve: {
    about: 'HTTP API and job queue: submit stories, follow progress, fetch MP4s (moga serve --port 8642)',
    load: () => import('./serve.js'),
  },
  worker: {
    about: 'take jobs from a Redis queue that moga serve --redis fills (moga worker --redis URL --data DIR)',
    load: () => import('./worker.js'),
  },
  world: {
    about: 'render a synthetic multi-shot story to MP4/PNG with captions and truth',
    load: () => import('./world.js'),
  },
};
