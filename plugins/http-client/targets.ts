import type { Attributes } from '@opentelemetry/api';
import * as sc from './semconv.js';

/**
 * The bounded cache behind every recorded request: one entry per upstream (host and port), holding the
 * attribute objects already built for it. A request costs two map lookups and no allocation once its
 * (host, method, status) has been seen; parsing happens only on a miss.
 */
export interface Target {
  readonly address: string;
  readonly port: number | undefined;
  /** In `ignoreHosts`: not measured. */
  readonly ignored: boolean;
  /** By `status * 16 + method index`. */
  readonly ok: Map<number, Attributes>;
  /** By `method index + error type`; errors are rare, so a string key is fine here. */
  readonly failed: Map<string, Attributes>;
}

const METHOD_INDEX = new Map<string, number>(sc.KNOWN_METHODS.map((m, i) => [m, i]));
const OTHER_METHOD = sc.KNOWN_METHODS.length;
const METHOD_NAMES: readonly string[] = [...sc.KNOWN_METHODS, sc.OTHER];

export function methodIndex(method: unknown): number {
  const index = typeof method === 'string' ? METHOD_INDEX.get(method) : undefined;
  return index ?? OTHER_METHOD;
}

/** `host`, `host:port`, `[::1]:port` → address (lower case, no brackets) and port. */
export function parseAuthority(authority: string, defaultPort: number): { address: string; port: number } {
  let host = authority;
  let port = defaultPort;
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > close && authority.indexOf(':') === colon) {
    host = authority.slice(0, colon);
    port = Number(authority.slice(colon + 1)) || defaultPort;
  } else if (close !== -1) {
    const rest = authority.slice(close + 1);
    host = authority.slice(authority.startsWith('[') ? 1 : 0, close);
    if (rest.startsWith(':')) port = Number(rest.slice(1)) || defaultPort;
  }
  return { address: host.toLowerCase(), port };
}

const defaultPortOf = (scheme: string) => (scheme === 'https' || scheme === 'https:' || scheme === 'wss' ? 443 : 80);

export class Targets {
  /** By `address:port`: the bound applies here. */
  private readonly byHost = new Map<string, Target>();
  /** By what the channel hands us (Host header, undici origin): a shortcut to `byHost`, bounded too. */
  private readonly byKey = new Map<string, Target>();
  private readonly other: Target;

  constructor(
    private readonly maxHosts: number,
    private readonly ignore: ReadonlySet<string>,
    private readonly onOverflow: () => void,
  ) {
    this.other = newTarget(sc.OTHER, undefined, false);
  }

  /** A node:http request: its scheme (`http:`) and Host header (or host name). */
  forAuthority(scheme: string, authority: string): Target {
    const key = scheme === 'https:' ? `s${authority}` : authority;
    return this.byKey.get(key) ?? this.miss(key, () => parseAuthority(authority, defaultPortOf(scheme)));
  }

  /** An undici request: its origin (`http://host:port`). */
  forOrigin(origin: string): Target {
    return (
      this.byKey.get(origin) ??
      this.miss(origin, () => {
        const sep = origin.indexOf('://');
        const scheme = sep === -1 ? 'http' : origin.slice(0, sep);
        const rest = sep === -1 ? origin : origin.slice(sep + 3);
        const slash = rest.indexOf('/');
        return parseAuthority(slash === -1 ? rest : rest.slice(0, slash), defaultPortOf(scheme));
      })
    );
  }

  private miss(key: string, parse: () => { address: string; port: number }): Target {
    const { address, port } = parse();
    const hostKey = `${address}:${port}`;
    let target = this.byHost.get(hostKey);
    if (!target) {
      if (this.byHost.size >= this.maxHosts) {
        this.onOverflow();
        return this.other;
      }
      target = newTarget(address, port, this.ignore.has(address));
      this.byHost.set(hostKey, target);
    }
    // Different spellings of one host (case, default port written out) share its entry; their number is bounded too.
    if (this.byKey.size < this.maxHosts * 4) this.byKey.set(key, target);
    return target;
  }

  get size(): number {
    return this.byHost.size;
  }
}

function newTarget(address: string, port: number | undefined, ignored: boolean): Target {
  return { address, port, ignored, ok: new Map(), failed: new Map() };
}

function base(target: Target, method: number): Attributes {
  const attributes: Attributes = { [sc.ATTR_HTTP_REQUEST_METHOD]: METHOD_NAMES[method] ?? sc.OTHER, [sc.ATTR_SERVER_ADDRESS]: target.address };
  if (target.port !== undefined) attributes[sc.ATTR_SERVER_PORT] = target.port;
  return attributes;
}

/** The attributes of a request that got a response. 4xx and 5xx carry `error.type`, as the conventions say for clients. */
export function responseAttributes(target: Target, method: number, status: number): Attributes {
  const key = status * 16 + method;
  let attributes = target.ok.get(key);
  if (attributes === undefined) {
    attributes = base(target, method);
    attributes[sc.ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
    if (status >= 400) attributes[sc.ATTR_ERROR_TYPE] = String(status);
    target.ok.set(key, attributes);
  }
  return attributes;
}

/** The attributes of a request that failed without a response. `errorType` is already bounded. */
export function errorAttributes(target: Target, method: number, errorType: string): Attributes {
  const key = `${method} ${errorType}`;
  let attributes = target.failed.get(key);
  if (attributes === undefined) {
    attributes = base(target, method);
    attributes[sc.ATTR_ERROR_TYPE] = errorType;
    target.failed.set(key, attributes);
  }
  return attributes;
}

const CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
const NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** `ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`, `AbortError`…: the error's code, else its name, else `_OTHER`. */
export function errorTypeOf(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (typeof code === 'string' && CODE.test(code)) return code;
  if (typeof name === 'string' && NAME.test(name) && name !== 'Error') return name;
  return sc.OTHER;
}
