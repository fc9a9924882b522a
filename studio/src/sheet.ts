/** The contact sheet (shot starts framed in orange by the server). */
import { mediaUrl } from './api.js';
import { fill, h } from './dom.js';

export async function sheet(root: HTMLElement, id: string): Promise<void> {
  const img = h('img', { alt: 'contact sheet', class: 'sheet', 'data-testid': 'sheet' });
  fill(root, h('h3', {}, 'Contact sheet'), img);
  img.src = await mediaUrl(`/api/jobs/${id}/sheet.png`);
}
