/**
 * VideoVAE configurations: frozen plain data with named presets. Override with spread:
 * `{ ...VAE_PRESETS.small, latentChannels: 8 }`.
 *
 * Geometry: a space-to-depth patch of `patch` x `patch` pixels, then `channels.length - 1` levels,
 * each halving space and time. So space shrinks by patch * 2^(levels-1) and time by 2^(levels-1),
 * the first frame kept alone (latent frames = 1 + (F - 1) / timeFactor).
 */
export interface VaeConfig {
  /** Latent channels (16 like Wan2.1). */
  readonly latentChannels: number;
  /** Space-to-depth patch applied before the first conv (cheap spatial compression). */
  readonly patch: number;
  /** Width of each level; level i > 0 is reached by a (time x2, space x2) strided conv. */
  readonly channels: readonly number[];
  /** Residual blocks per level, in the encoder and in the decoder. */
  readonly blocks: number;
  /** Temporal kernel of each level's residual-block convs (1 = per frame, 3 = causal in time). */
  readonly blockTimeKernel: readonly number[];
  /** Temporal kernel of the convs after each decoder upsampling (>= 2, so duplicated frames differ). */
  readonly upTimeKernel: number;
  /** 'channel': layer norm over channels per position (Wan2.1-like); 'group': group norm per frame. */
  readonly norm: 'channel' | 'group';
  /**
   * Normalise before the output convs (encoder -> latent, decoder -> pixels). Off in the presets:
   * every norm is blind to its input's scale, and the residual stream is the only path that keeps
   * brightness; a norm at the head throws it away (unless biases learn to restore it, slowly).
   */
  readonly headNorm: boolean;
  /** Parameter-free pool / channel-map shortcuts around every resolution change (DC-AE style). */
  readonly shortcuts: boolean;
  /** Group norm groups (statistics per frame, over each group's channels and the frame). */
  readonly groups: number;
}

export const VAE_PRESETS = {
  /** For tests: runs in milliseconds at tiny widths; same geometry (4 x 8 x 8). */
  tiny: {
    latentChannels: 4,
    patch: 2,
    channels: [8, 8, 8],
    blocks: 1,
    blockTimeKernel: [1, 3, 3],
    upTimeKernel: 2,
    norm: 'channel',
    headNorm: false,
    shortcuts: true,
    groups: 4,
  },
  /** The bundled model: trains on two CPU cores. */
  small: {
    latentChannels: 16,
    patch: 2,
    channels: [32, 48, 64],
    blocks: 1,
    blockTimeKernel: [1, 3, 3],
    upTimeKernel: 2,
    norm: 'channel',
    headNorm: false,
    shortcuts: true,
    groups: 8,
  },
} as const satisfies Record<string, VaeConfig>;

export type VaePresetName = keyof typeof VAE_PRESETS;

/** Space and time compression factors of a config. */
export function vaeFactors(c: VaeConfig): { space: number; time: number } {
  const levels = c.channels.length;
  return { space: c.patch * 2 ** (levels - 1), time: 2 ** (levels - 1) };
}

/** Throws a message naming the first problem of a config. */
export function checkVaeConfig(c: VaeConfig): void {
  const bad = (m: string) => {
    throw new Error(`vae config: ${m}`);
  };
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (!posInt(c.latentChannels)) bad(`latentChannels must be a positive integer, got ${c.latentChannels}`);
  if (!posInt(c.patch)) bad(`patch must be a positive integer, got ${c.patch}`);
  if (!Array.isArray(c.channels) || c.channels.length < 1 || !c.channels.every(posInt))
    bad(`channels must be a non-empty list of positive integers, got ${JSON.stringify(c.channels)}`);
  if (
    !Array.isArray(c.blockTimeKernel) ||
    c.blockTimeKernel.length !== c.channels.length ||
    !c.blockTimeKernel.every(posInt)
  )
    bad(`blockTimeKernel needs one positive kernel size per level (${c.channels.length})`);
  if (!Number.isInteger(c.blocks) || c.blocks < 0) bad(`blocks must be an integer >= 0, got ${c.blocks}`);
  if (!Number.isInteger(c.upTimeKernel) || c.upTimeKernel < 2)
    bad(`upTimeKernel must be an integer >= 2, got ${c.upTimeKernel}`);
  if (c.norm !== 'channel' && c.norm !== 'group')
    bad(`norm must be 'channel' or 'group', got ${JSON.stringify(c.norm)}`);
  if (!posInt(c.groups) || c.channels.some((ch) => ch % c.groups !== 0))
    bad(`groups (${c.groups}) must divide every level width ${JSON.stringify(c.channels)}`);
}

/** A preset by name, or the config itself (validated). */
export function vaePresetOrConfig(m: VaePresetName | VaeConfig): VaeConfig {
  if (typeof m === 'string') {
    const p = (VAE_PRESETS as Record<string, VaeConfig>)[m];
    if (!p) throw new Error(`unknown VAE preset '${m}' (known: ${Object.keys(VAE_PRESETS).join(', ')})`);
    return p;
  }
  checkVaeConfig(m);
  return m;
}
