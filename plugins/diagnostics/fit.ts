/** Whether a heap snapshot can be taken without pushing the process out of memory. Pure, for tests. */
export interface FitInput {
  /** The heap-budget plugin's state, or undefined when that plugin is off. */
  budgetState: 'ok' | 'soft' | 'shedding' | undefined;
  heapUsed: number;
  heapLimit: number;
  rss: number;
  /** Memory the profile says the process may use, and whether that is a real (cgroup) limit. */
  memoryBytes: number;
  constrained: boolean;
}

export type Fit = { fits: true } | { fits: false; reason: string };

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/**
 * V8 builds the snapshot next to the heap it describes and the serialized form is larger still, so it
 * needs roughly the used heap again. Refused whenever the heap budget already reports pressure, when
 * twice the used heap would pass the V8 limit, or, in a container, when RSS plus the used heap would pass
 * the container's memory: an OOM kill there loses the process and the snapshot with it.
 */
export function heapSnapshotFit(input: FitInput): Fit {
  if (input.budgetState === 'shedding' || input.budgetState === 'soft') {
    return { fits: false, reason: `the heap budget is "${input.budgetState}": memory is already short, and a snapshot needs about as much again as the used heap (${mib(input.heapUsed)})` };
  }
  if (input.heapUsed * 2 > input.heapLimit) {
    return { fits: false, reason: `a snapshot needs about as much memory again as the used heap: 2 × ${mib(input.heapUsed)} would exceed the V8 heap limit of ${mib(input.heapLimit)}` };
  }
  if (input.constrained && input.rss + input.heapUsed > input.memoryBytes) {
    return { fits: false, reason: `RSS ${mib(input.rss)} + used heap ${mib(input.heapUsed)} would exceed the container's ${mib(input.memoryBytes)}` };
  }
  return { fits: true };
}
