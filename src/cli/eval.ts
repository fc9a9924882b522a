/**
 * `moga eval <model> [options]`: one evaluation per model, loaded lazily. Add a line per model.
 */
const EVALS: Record<string, { about: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> }> =
  {
    gen: {
      about:
        'score generated videos of held-out world stories with the probes (--model DIR | --truth | --noise)',
      load: () => import('./eval-gen.js'),
    },
    cond: {
      about:
        'image to video, shot regeneration and extension of a model with dit.conditioning, beside its plain generations',
      load: () => import('./eval-cond.js'),
    },
    probe: {
      about: 'held-out accuracy of the world probes, clean and through the VAE',
      load: () => import('./eval-probe.js'),
    },
    vae: {
      about: 'PSNR of the committed VAE checkpoint on held-out world clips at 224x128',
      load: () => import('./eval-vae.js'),
    },
  };

export async function run(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const t = name ? EVALS[name] : undefined;
  if (!t) {
    const rows = Object.entries(EVALS).map(([n, c]) => `  ${n.padEnd(8)} ${c.about}`);
    console.log(['usage: moga eval <model> [options]', '', ...rows].join('\n'));
    if (name && name !== '--help' && name !== '-h') throw new Error(`unknown model '${name}' for eval`);
    return;
  }
  await (await t.load()).run(rest);
}
