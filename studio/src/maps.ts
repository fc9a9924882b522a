/**
 * The router maps of a job submitted with maps (groups.json and its PNGs, src/pipeline/router-maps.ts):
 * one picture per layer and latent frame (pick both), the group sizes of the layer as a histogram,
 * and each group's share per shot as a table, tinted by size.
 */
import { json, mediaUrl } from './api.js';
import { fill, h, svg } from './dom.js';
import type { MapsIndex } from './types.js';

const rgb = (c: readonly number[]) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;

function histogram(sizes: readonly number[], colours: MapsIndex['colours']): SVGElement {
  const W = 320;
  const H = 120;
  const max = Math.max(1, ...sizes);
  const bw = W / Math.max(1, sizes.length);
  return svg(
    'svg',
    { viewBox: `0 0 ${W} ${H + 16}`, class: 'histogram', 'data-testid': 'histogram', role: 'img' },
    ...sizes.flatMap((n, g) => {
      const bh = (H * n) / max;
      const bar = svg('rect', {
        x: g * bw + 2,
        y: H - bh,
        width: Math.max(1, bw - 4),
        height: bh,
        fill: rgb(colours[g % colours.length]),
      });
      bar.append(svg('title', {}, document.createTextNode(`group ${g}: ${n} tokens`)));
      const label = svg(
        'text',
        { x: g * bw + bw / 2, y: H + 12, 'text-anchor': 'middle' },
        document.createTextNode(String(g)),
      );
      return [bar, label];
    }),
  );
}

export async function maps(root: HTMLElement, id: string): Promise<void> {
  const index = await json<MapsIndex>(`/api/jobs/${id}/maps`);
  const layers = index.layers.map((l) => l.layer);
  let layer = layers[0];
  let frame = 0;
  const img = h('img', { class: 'map', alt: 'router map', 'data-testid': 'map' });
  const caption = h('span', { class: 'muted' });
  const hist = h('div', {});
  const share = h('div', {});
  const shotOf = (k: number) => index.shotStarts.filter((s) => s <= k).length;

  const draw = async () => {
    const L = index.layers.find((l) => l.layer === layer)!;
    const name = `layer-${layer}-frame-${String(frame).padStart(4, '0')}.png`;
    caption.textContent = `layer ${layer}, latent frame ${frame} (video frame ${index.frames[frame]}, shot ${shotOf(frame)}): ${L.perFrame[frame]?.map((n, g) => `g${g} ${n}`).join(', ') ?? ''}`;
    fill(
      hist,
      h('h4', {}, `Group sizes, layer ${layer} (tokens over the whole video)`),
      histogram(L.sizes, index.colours),
    );
    const shots = index.shotStarts.length;
    fill(
      share,
      h('h4', {}, "Each group's share per shot"),
      h(
        'table',
        { class: 'share', 'data-testid': 'share' },
        h(
          'tr',
          {},
          h('th', {}, 'group'),
          Array.from({ length: shots }, (_, s) => h('th', {}, `shot ${s + 1}`)),
        ),
        L.shotShare.map((row, g) => {
          const head = h('th', {}, `g${g}`);
          head.style.color = rgb(index.colours[g % index.colours.length]);
          return h(
            'tr',
            {},
            head,
            row.map((x) => {
              const td = h('td', {}, `${Math.round(100 * x)} %`);
              td.style.backgroundColor = `rgba(255, 140, 0, ${x * 0.6})`;
              return td;
            }),
          );
        }),
      ),
    );
    img.src = index.files.includes(name) ? await mediaUrl(`/api/jobs/${id}/maps/${name}`) : '';
  };

  const layerPick = h(
    'select',
    {
      'data-testid': 'map-layer',
      onchange: (e: Event) => {
        layer = Number((e.target as HTMLSelectElement).value);
        void draw();
      },
    },
    layers.map((l) => h('option', { value: String(l) }, `layer ${l}`)),
  );
  const framePick = h('input', {
    type: 'range',
    min: '0',
    max: String(index.frames.length - 1),
    value: '0',
    'data-testid': 'map-frame',
    oninput: (e: Event) => {
      frame = Number((e.target as HTMLInputElement).value);
      void draw();
    },
  });
  fill(
    root,
    h('h3', {}, 'Router maps'),
    h(
      'p',
      { class: 'muted' },
      `${index.groups} groups, routing of the ${index.step}; ${index.tokens.rows}×${index.tokens.columns} tokens per latent frame`,
    ),
    h('div', { class: 'pickers' }, layerPick, h('label', {}, 'latent frame ', framePick)),
    img,
    caption,
    h('div', { class: 'map-charts' }, hist, share),
  );
  await draw();
}
