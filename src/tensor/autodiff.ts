/**
 * Reverse-mode differentiation over the graph that `apply` records. First order: the backward pass
 * itself runs without recording. Intermediate gradients are freed as soon as they are consumed.
 */

import type { OpName } from '../core/op-spec.js';
import { GRAD_RULES, type GradRule } from './grad-rules.js';
import { add, onesLike } from './ops.js';
import { type GradNode, noGrad, type Tensor } from './tensor.js';

/** Nodes reachable from `root`, in an order where every node comes after the nodes it feeds. */
function reverseTopo(root: Tensor): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  const stack: [GradNode, number][] = root.node ? [[root.node, 0]] : [];
  if (root.node) seen.add(root.node);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i].node;
      if (child && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/**
 * Gradients of `loss` with respect to each tensor of `wrt` (zeros are not materialised: a tensor
 * the loss does not depend on gets `undefined`). `seed` defaults to ones (a scalar loss).
 */
export function gradients(loss: Tensor, wrt: readonly Tensor[], seed?: Tensor): (Tensor | undefined)[] {
  if (!loss.requiresGrad)
    throw new Error('gradients: the loss does not depend on any tensor that requires grad');
  return noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    const uses = new Map<Tensor, number>(); // how many map entries hold each gradient tensor
    const set = (t: Tensor, g: Tensor) => {
      const old = grads.get(t);
      const next = old ? add(old, g) : g;
      if (old) release(old);
      grads.set(t, next);
      uses.set(next, (uses.get(next) ?? 0) + 1);
    };
    const release = (g: Tensor) => {
      const n = (uses.get(g) ?? 1) - 1;
      uses.set(g, n);
      if (n === 0) {
        uses.delete(g);
        g.dispose();
      }
    };
    const keepers = new Set(wrt);
    set(loss, seed ?? onesLike(loss));
    for (const node of reverseTopo(loss)) {
      const dys = node.outputs.map((t) => grads.get(t));
      if (dys.every((g) => g === undefined)) continue;
      const rule = GRAD_RULES[node.op] as GradRule<OpName> | null;
      if (!rule) continue;
      const dxs = rule(dys, { inputs: node.inputs, outputs: node.outputs, params: node.params as never });
      node.inputs.forEach((x, i) => {
        const g = dxs[i];
        if (g && x.requiresGrad) set(x, g);
      });
      for (const t of node.outputs) {
        const g = grads.get(t);
        if (g && !keepers.has(t)) {
          grads.delete(t);
          release(g);
        }
      }
    }
    return wrt.map((t) => grads.get(t));
  });
}

/** Sets `.grad` on every tensor of `params` (accumulating into an existing `.grad`). */
export function backward(loss: Tensor, params: readonly Tensor[]): void {
  const gs = gradients(loss, params);
  params.forEach((p, i) => {
    const g = gs[i];
    if (!g) return;
    p.grad = p.grad ? noGrad(() => add(p.grad!, g)) : g;
  });
}

/** `f`'s value and its gradients with respect to every argument. */
export function valueAndGrad<A extends Tensor[]>(
  f: (...args: A) => Tensor,
): (...args: A) => { value: Tensor; grads: (Tensor | undefined)[] } {
  return (...args: A) => {
    const before = args.map((a) => a.requiresGrad);
    for (const a of args) a.requiresGrad = true;
    try {
      const value = f(...args);
      return { value, grads: gradients(value, args) };
    } finally {
      args.forEach((a, i) => (a.requiresGrad = before[i]));
    }
  };
}

export function grad<A extends Tensor[]>(f: (...args: A) => Tensor): (...args: A) => (Tensor | undefined)[] {
  const vg = valueAndGrad(f);
  return (...args: A) => vg(...args).grads;
}
