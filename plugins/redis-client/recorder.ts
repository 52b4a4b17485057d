import type { Attributes, Histogram } from '@opentelemetry/api';
import { boundedLabel } from '../../src/bounded.js';
import * as sc from './semconv.js';

const PREFIX = /^([A-Z][A-Z_]{1,31})(?: |$)/;
const CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
const NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/**
 * The server's error prefix (`WRONGTYPE`, `NOSCRIPT`, `ERR`) for a reply error; else the error's code
 * (`ECONNREFUSED`), else its class (`ClientClosedError`, `MaxRetriesPerRequestError`), else `_OTHER`.
 * `reply` says whether it was the server that answered with it.
 */
export function classifyError(error: unknown): { type: string; reply: boolean } {
  const e = (error ?? {}) as { code?: unknown; name?: unknown; message?: unknown; constructor?: { name?: unknown } };
  const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : typeof e.constructor?.name === 'string' ? e.constructor.name : '';
  if (isReplyError(error) && typeof e.message === 'string') {
    const prefix = PREFIX.exec(e.message)?.[1];
    if (prefix !== undefined) return { type: prefix, reply: true };
  }
  if (typeof e.code === 'string' && CODE.test(e.code)) return { type: e.code, reply: false };
  if (name !== 'Error' && NAME.test(name)) return { type: name, reply: false };
  return { type: sc.OTHER, reply: false };
}

/** ioredis' `ReplyError`, node-redis' `ErrorReply` and its RESP3 `SimpleError`/`BlobError`: the server answered with an error. */
const REPLY_CLASSES = /^(?:ReplyError|ErrorReply|SimpleError|BlobError|RedisError)$/;
function isReplyError(error: unknown): boolean {
  let proto: unknown = error !== null && typeof error === 'object' ? Object.getPrototypeOf(error) : null;
  for (let depth = 0; proto && depth < 5; depth++) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && REPLY_CLASSES.test(name)) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/**
 * Records operations into `db.client.operation.duration`. The attribute objects are built once per
 * (operation) and (operation, error type) and reused, so a command costs map lookups, not allocations.
 */
export class Recorder {
  active = true;
  private readonly ok = new Map<string, Attributes>();
  private readonly failed = new Map<string, Attributes>();
  private readonly boundError = boundedLabel('Redis error types', 50);

  constructor(
    private readonly histogram: Histogram,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** `operation` is already a bounded label (see commands.ts); `started` is from performance.now(). */
  record(operation: string, started: number, error: unknown): void {
    if (!this.active) return;
    try {
      const attributes = error === undefined ? this.okAttributes(operation) : this.errorAttributes(operation, error);
      this.histogram.record((performance.now() - started) / 1000, attributes);
    } catch (failure) {
      this.onError(failure);
    }
  }

  private okAttributes(operation: string): Attributes {
    let attributes = this.ok.get(operation);
    if (attributes === undefined) {
      attributes = { [sc.ATTR_DB_SYSTEM_NAME]: sc.DB_SYSTEM_REDIS, [sc.ATTR_DB_OPERATION_NAME]: operation };
      this.ok.set(operation, attributes);
    }
    return attributes;
  }

  private errorAttributes(operation: string, error: unknown): Attributes {
    const { type, reply } = classifyError(error);
    const bounded = this.boundError(type);
    const key = `${operation} ${bounded}`;
    let attributes = this.failed.get(key);
    if (attributes === undefined) {
      attributes = { [sc.ATTR_DB_SYSTEM_NAME]: sc.DB_SYSTEM_REDIS, [sc.ATTR_DB_OPERATION_NAME]: operation, [sc.ATTR_ERROR_TYPE]: bounded };
      if (reply && bounded !== sc.OTHER) attributes[sc.ATTR_DB_RESPONSE_STATUS_CODE] = bounded;
      this.failed.set(key, attributes);
    }
    return attributes;
  }
}
