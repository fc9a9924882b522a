/**
 * `moga train <model> [options]`: one subcommand per trainable model, loaded lazily.
 * Add a line per model to TRAINERS.
 */
const TRAINERS: Record<
  string,
  { about: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> }
> = {
  dit: {
    about: 'train the video DiT + text encoder on world-clip latents (--config configs/dit-tiny.json)',
    load: () => import('./train-dit.js'),
  },
  probe: {
    about: 'train the world probes that score generated video (--config configs/probe.json)',
    load: () => import('./train-probe.js'),
  },
  vae: {
    about: 'train the causal video VAE from a JSON recipe (--config configs/vae-small.json)',
    load: () => import('./train-vae.js'),
  },
};

export async function run(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const t = name ? TRAINERS[name] : undefined;
  if (!t) {
    const rows = Object.entries(TRAINERS).map(([n, c]) => `  ${n.padEnd(8)} ${c.about}`);
    console.log(['usage: moga train <model> [options]', '', ...rows].join('\n'));
    if (name && name !== '--help' && name !== '-h') throw new Error(`unknown model '${name}' for train`);
    return;
  }
  await (await t.load()).run(rest);
}
