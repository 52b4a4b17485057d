import { log } from './log.js';

/**
 * Keeps SIGTERM and SIGINT meaning what they meant before the preload.
 * Node's default for both is to exit; adding any listener removes that default. So ours checks, when the
 * signal arrives, whether the host listens too: if it does, the host keeps full control and we only flush;
 * if not, we flush (bounded) and re-raise the signal with our listener gone, so the process dies of it
 * with the usual status (143 for SIGTERM, 130 for SIGINT in a shell).
 */
export function installSignalHandlers(shutdown: () => Promise<void>, flush: () => Promise<void>, boundMs: number): () => void {
  const signals = ['SIGTERM', 'SIGINT'] as const;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of signals) {
    const handler = (): void => {
      if (process.listenerCount(signal) > 1) {
        flush().catch(() => {});
        return;
      }
      remove();
      log.debug(`${signal}: flushing (at most ${boundMs} ms), then exiting`);
      // A ref'd timer on purpose: the bound must hold even if the loop would otherwise empty.
      const bound = new Promise<void>((resolve) => setTimeout(resolve, boundMs));
      Promise.race([shutdown().catch(() => {}), bound]).finally(() => process.kill(process.pid, signal));
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  const remove = (): void => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  };
  return remove;
}
