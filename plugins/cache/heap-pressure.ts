import type { PluginContext } from '../../src/plugin.js';
import type { HeapBudget } from '../heap-budget/index.js';
import type { L1 } from './l1.js';

/** L1's share of the budget in each heap-budget state. */
const FRACTION = { ok: 1, soft: 0.5, shedding: 0.25 } as const;

/**
 * Shrinks L1 when the heap-budget plugin reports pressure and restores it when it eases. heap-budget may
 * start after this plugin (no dependency between them, so either runs alone), so it is looked up again
 * for a few seconds on an unref'd timer.
 */
export function followHeapBudget(ctx: PluginContext, l1: L1): () => void {
  let off = (): void => {};
  const apply = (state: keyof typeof FRACTION): void => {
    const fraction = FRACTION[state] ?? 1;
    if (fraction === 1) l1.restore();
    else l1.shrink(fraction);
    if (fraction !== 1) ctx.log.info(`cache: heap budget ${state}, L1 shrunk to ${Math.round(l1.currentBudget / 2 ** 20)} MiB`);
  };
  const attach = (): boolean => {
    const budget = ctx.use<HeapBudget | undefined>('heap-budget');
    if (!budget) return false;
    apply(budget.state());
    off = budget.onChange((state) => apply(state));
    return true;
  };
  let tries = 0;
  const timer = attach()
    ? undefined
    : setInterval(() => {
        if (attach() || ++tries >= 50) clearInterval(timer);
      }, 100).unref();
  return () => {
    clearInterval(timer);
    off();
  };
}
