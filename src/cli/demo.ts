/** `moga demo`: the end-to-end path that exists so far (replaced as the product lands). */
import { availableBackends } from '../backends/index.js';

export async function run(_argv: string[]): Promise<void> {
  const { available, unavailable } = await availableBackends();
  console.log(`moga demo: backends available: ${available.join(', ')}`);
  for (const [k, why] of Object.entries(unavailable)) console.log(`  ${k}: ${why}`);
}
