/**
 * MoGA routing on the CUDA backend (mock driver), where the plan is built on the device
 * (Backend.routedPlan) and nothing of the routing is read back, against the host path on `ref`:
 * the router (groups, gate, both balancing losses, the weight's gradient) and VisualAttention over
 * a batch and with per-shot groups (the segment keys: sample, shot, group), forward and gradients.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MoGARouter, tapRouting } from '../../src/attention/router.js';
import { VisualAttention, visualAttentionConfig } from '../../src/attention/visual-attention.js';
import { createCudaBackend } from '../../src/backends/cuda/backend.js';
import { createRefBackend } from '../../src/backends/ref/index.js';
import { useBackend } from '../../src/backends/registry.js';
import { namedParams } from '../../src/nn/params.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { add, mul, sum } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, type Tensor, tidy } from '../../src/tensor/tensor.js';
import { mockContext, randoms } from './helpers.js';

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++)
    assert.ok(
      Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])),
      `${what}[${i}]: ${got[i]} vs ${want[i]}`,
    );
};

/** Runs `f` on ref and on the mock CUDA backend; returns both results and the mock driver. */
function both<T>(f: () => T) {
  useBackend(createRefBackend());
  const ref = tidy(f);
  const { ctx, driver } = mockContext();
  const cuda = createCudaBackend(ctx);
  useBackend(cuda);
  const got = tidy(f);
  useBackend(createRefBackend());
  assert.equal(cuda.fallbacks.size, 0, `fell back: ${[...cuda.fallbacks.keys()].join(', ')}`);
  const back = driver.downloads.filter((a) => a instanceof Int32Array && a.length > 1);
  return { ref, got, driver, back, cuda };
}

describe('MoGA routing with the plan built on the CUDA device (mock driver) against ref', () => {
  for (const balance of ['switch', 'printed'] as const)
    it(`the router: groups, gate, ${balance} balancing loss and the weight gradient`, () => {
      const [n, d, m] = [37, 8, 5];
      const x = randoms(3, n * d, 2);
      const c = randoms(4, n);
      const { ref, got, back } = both(() => {
        const p = MoGARouter.init(new Rng(7), d, m);
        p.proj.weight.requiresGrad = true;
        const r = MoGARouter.apply(p, fromArray(x, [n, d]), { balance });
        const loss = add(sum(mul(r.gate, fromArray(c, [n]))), r.balanceLoss);
        const [g] = gradients(loss, [p.proj.weight]);
        const out = {
          groups: Array.from(r.groups.dataSync()),
          gate: r.gate.dataSync(),
          bal: r.balanceLoss.item(),
          g: g!.dataSync(),
          hostIds: r.groupIds !== undefined,
        };
        p.proj.weight.dispose();
        return out;
      });
      assert.deepEqual(got.groups, ref.groups);
      assert.ok(ref.hostIds && !got.hostIds, 'the host ids exist on ref only');
      close(got.gate, ref.gate, 0, 'gate');
      close([got.bal], [ref.bal], 1e-6, 'balance loss');
      close(got.g, ref.g, 1e-5, 'weight gradient');
      // the one int32 array read back is the test's own read of groups: the router read none
      assert.equal(back.length, 1);
    });

  for (const [B, perShot] of [
    [1, false],
    [2, false],
    [2, true],
    [3, true],
  ] as const)
    it(`VisualAttention, batch ${B}${perShot ? ', groups split by shot' : ''}: output and gradients`, () => {
      const layout = { frames: 4, height: 2, width: 3, shotStarts: [0, 1, 3] };
      const L = 24;
      const cfg = visualAttentionConfig(16, 2, { numGroups: 3, routedPerShot: perShot });
      const x = randoms(B + (perShot ? 10 : 0), B * L * 16, 2);
      const w = randoms(5, B * L * 16);
      const { ref, got, back, driver } = both(() => {
        const p = VisualAttention.init(new Rng(11), cfg);
        const ps = namedParams(p as never).map(([, t]) => t);
        for (const t of ps) t.requiresGrad = true;
        const r = VisualAttention.apply(p, cfg, fromArray(x, [B, L, 16]), layout);
        const loss = add(sum(mul(r.out, fromArray(w, [B, L, 16]))), r.balanceLoss!);
        const grads = gradients(loss, ps) as Tensor[];
        const out = { out: r.out.dataSync(), grads: grads.map((g) => g.dataSync()) };
        for (const t of ps) t.dispose();
        return out;
      });
      assert.equal(
        driver.launches.filter((l) => l.f.name === 'group_scatter').length,
        1,
        'one plan, on the device',
      );
      assert.deepEqual(back, [], 'no routing read back');
      close(got.out, ref.out, 1e-5, 'output');
      got.grads.forEach((g, i) => close(g, ref.grads[i], 1e-4, `gradient ${i}`));
    });

  it("a routing tap (generate --maps) still sees the first sample's groups: read back for it only", () => {
    const layout = { frames: 2, height: 2, width: 2 };
    const cfg = visualAttentionConfig(16, 2, { numGroups: 3 });
    const x = randoms(21, 2 * 8 * 16, 2);
    const { ref, got, back } = both(() => {
      const seen: number[][] = [];
      const p = VisualAttention.init(new Rng(3), cfg);
      tapRouting(
        (r) => seen.push(Array.from(r.groupIds)),
        () => VisualAttention.apply(p, cfg, fromArray(x, [2, 8, 16]), layout),
      );
      return seen;
    });
    assert.equal(ref.length, 1);
    assert.deepEqual(got, ref);
    assert.equal(back.length, 1, 'the tap read the groups back once');
  });
});
