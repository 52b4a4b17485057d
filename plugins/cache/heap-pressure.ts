import type { log } from '../../src/log.js';
import type { HeapBudget } from '../heap-budget/index.js';
import type { L1 } from './l1.js';

/** L1's share of the budget in each heap-budget state. */
const FRACTION = { ok: 1, soft: 0.5, shedding: 0.25 } as const;

/**
 * Shrinks L1 when the heap-budget plugin reports pressure and restores it when it eases. heap-budget is an
 * optional dependency (`optionalDependsOn`): when it runs, it is set up first and handed over here; when
 * it does not, there is nothing to follow.
 */
export function followHeapBudget(budget: HeapBudget | undefined, l1: L1, logger: typeof log): () => void {
  if (budget === undefined) return () => {};
  const apply = (state: keyof typeof FRACTION): void => {
    const fraction = FRACTION[state] ?? 1;
    if (fraction === 1) l1.restore();
    else l1.shrink(fraction);
    if (fraction !== 1) logger.info(`cache: heap budget ${state}, L1 shrunk to ${Math.round(l1.currentBudget / 2 ** 20)} MiB`);
  };
  apply(budget.state());
  return budget.onChange((state) => apply(state));
}
