import { express4Alternatives } from './express4-path.js';
import { joinRoute, templateFromMatch } from './route-template.js';
import { ROUTE_REGEXP, ROUTE_UNKNOWN } from './semconv.js';

/**
 * The `http.route` of an Express (4 or 5) request: the templates of the routers it was mounted through,
 * then its route's path, e.g. `/accounts/:email/profile`.
 *
 * Express only leaves `req.route` (the last route matched) on the request; `req.baseUrl` holds raw values
 * (`/accounts/ann@example.com`) and is reset when an error leaves a router. So the route is located in the
 * app's layer tree (`app._router` / `app.router`), once per route object, and the chain of mount templates
 * that leads to it is cached in a WeakMap: a request usually costs two WeakMap reads. Nothing is patched.
 * Only when a route is reachable in several ways (a router mounted at an array of paths, or twice) is the
 * request's path matched again through the candidate chains, with the layers' own matchers.
 */
interface Key {
  name: string | number;
}
interface RouteLike {
  path?: unknown;
}
interface LayerLike {
  route?: RouteLike;
  handle?: { stack?: unknown };
  /** Express 4 (path-to-regexp 0.1). */
  regexp?: RegExp & { fast_slash?: boolean };
  keys?: Key[];
  /** router >= 2.3 (Express 5): the path as given to `use` or `route`. */
  rawPath?: unknown;
  slash?: boolean;
  /** router < 2.3: one matcher per path, nothing else kept. */
  matchers?: ((path: string) => { path: string; params: Record<string, unknown> } | false)[];
  match?: (path: string) => { path: string; pattern?: unknown } | false;
}
interface RouterLike {
  stack: LayerLike[];
}
interface AppLike {
  _router?: RouterLike;
  router?: RouterLike;
  parent?: AppLike;
  mountpath?: unknown;
}
export interface ExpressRequest {
  route?: RouteLike;
  app?: AppLike;
  baseUrl?: string;
  originalUrl?: string;
  url?: string;
  params?: Record<string, unknown>;
}

interface Step {
  /** The template when it does not depend on the request. */
  fixed?: string;
  /** Matches the rest of the path: the template and the length consumed, or undefined. */
  match(path: string): { template: string; length: number } | undefined;
}
type Resolution = { fixed: string } | { chains: Step[][] };

// A layer tree is code, not data, but a router can be mounted inside itself: the walk is bounded.
const MAX_LAYERS = 10_000;
const MAX_DEPTH = 32;

export class ExpressRoutes {
  private readonly cache = new WeakMap<RouterLike, WeakMap<RouteLike, Resolution | null>>();

  /** The route template, or undefined when no Express route matched (a 404 or an earlier answer). */
  routeOf(request: ExpressRequest): string | undefined {
    const route = request.route;
    if (route === null || typeof route !== 'object' || !('path' in route)) return undefined;
    const own = routeTemplate(route.path);
    // Apps from the one that answered up to the root: an error may have left a sub-app already.
    for (let app = request.app, depth = 0; app && depth < MAX_DEPTH; app = app.parent, depth++) {
      const router = routerOf(app);
      if (!router) continue;
      const resolution = this.resolve(router, route);
      if (!resolution) continue;
      const prefix = mountPrefix(app);
      if ('fixed' in resolution) return joinRoute([prefix, resolution.fixed]);
      if (app.parent) return joinRoute([prefix, ROUTE_UNKNOWN]);
      return walk(resolution.chains, pathnameOf(request)) ?? joinRoute([ROUTE_UNKNOWN, own]);
    }
    // A bare `router` without an app: its route alone is right only outside any mount.
    return request.app === undefined && !request.baseUrl ? joinRoute([own]) : joinRoute([ROUTE_UNKNOWN, own]);
  }

  private resolve(router: RouterLike, route: RouteLike): Resolution | null {
    let byRoute = this.cache.get(router);
    if (!byRoute) this.cache.set(router, (byRoute = new WeakMap()));
    let resolution = byRoute.get(route);
    if (resolution === undefined) {
      resolution = resolutionOf(findChains(router, route));
      byRoute.set(route, resolution);
    }
    return resolution;
  }
}

/**
 * Whether an Express app dispatched the request: Express gives each request it handles its app's request
 * prototype, which carries `app`, before its router runs. A request with no route then matched none.
 */
export function expressHandled(request: ExpressRequest): boolean {
  const app = request.app;
  // An Express app is a function (the request listener) with the app's methods on it.
  return (typeof app === 'function' || (app !== null && typeof app === 'object')) && routerOf(app) !== undefined;
}

function routerOf(app: AppLike): RouterLike | undefined {
  try {
    // Express 4 keeps `_router` (its `app.router` getter throws); Express 5 has `app.router`.
    const router = app._router ?? app.router;
    return router && Array.isArray(router.stack) ? router : undefined;
  } catch {
    return undefined;
  }
}

/** Mount templates of the sub-apps between the root app and `app` (`app.mountpath`). */
function mountPrefix(app: AppLike): string {
  const parts: string[] = [];
  for (let a: AppLike | undefined = app, depth = 0; a?.parent && depth < MAX_DEPTH; a = a.parent, depth++) {
    parts.unshift(typeof a.mountpath === 'string' ? a.mountpath : a.mountpath instanceof RegExp ? ROUTE_REGEXP : ROUTE_UNKNOWN);
  }
  return joinRoute(parts);
}

/** Every chain of layers from `router` down to the layer of `route` (mount layers, then the route's). */
function findChains(router: RouterLike, route: RouteLike): LayerLike[][] {
  const chains: LayerLike[][] = [];
  const visiting = new Set<RouterLike>();
  let budget = MAX_LAYERS;
  const visit = (r: RouterLike, above: LayerLike[]): void => {
    if (visiting.has(r) || above.length >= MAX_DEPTH) return;
    visiting.add(r);
    for (const layer of r.stack) {
      if (--budget < 0) break;
      if (layer.route === route) chains.push([...above, layer]);
      else if (!layer.route && layer.handle && Array.isArray(layer.handle.stack)) visit(layer.handle as RouterLike, [...above, layer]);
    }
    visiting.delete(r);
  };
  visit(router, []);
  return chains;
}

function resolutionOf(chains: LayerLike[][]): Resolution | null {
  if (chains.length === 0) return null;
  const steps = chains.map((chain) => chain.map((layer) => (layer.route ? routeStep(layer, layer.route) : mountStep(layer))));
  const fixed = new Set<string>();
  for (const chain of steps) {
    if (chain.some((step) => step.fixed === undefined)) return { chains: steps };
    fixed.add(joinRoute(chain.map((step) => step.fixed!)));
  }
  return fixed.size === 1 ? { fixed: [...fixed][0]! } : { chains: steps };
}

function walk(chains: Step[][], pathname: string | undefined): string | undefined {
  if (pathname === undefined) return undefined;
  chains: for (const chain of chains) {
    let rest = pathname;
    const parts: string[] = [];
    for (const step of chain) {
      const matched = step.match(rest);
      if (!matched) continue chains;
      parts.push(matched.template);
      rest = rest.slice(matched.length);
      if (!rest.startsWith('/')) rest = `/${rest}`;
    }
    return joinRoute(parts);
  }
  return undefined;
}

function mountStep(layer: LayerLike): Step {
  if ('rawPath' in layer) return patternStep(layer, layer.rawPath);
  if (layer.regexp instanceof RegExp) {
    if (layer.regexp.fast_slash) return fixedStep(layer, '');
    const alternatives = express4Alternatives(layer.regexp, layer.keys ?? []);
    if (!alternatives) return fixedStep(layer, ROUTE_REGEXP);
    return alternativesStep(layer, alternatives.map((a) => a.template), alternatives);
  }
  if (layer.slash) return fixedStep(layer, '');
  if (Array.isArray(layer.matchers)) return legacyMatchersStep(layer.matchers);
  return fixedStep(layer, ROUTE_UNKNOWN);
}

function routeStep(layer: LayerLike, route: RouteLike): Step {
  const path = route.path;
  if (!Array.isArray(path)) return fixedStep(layer, routeTemplate(path));
  const templates = path.flat(Infinity).map(routeTemplate);
  if ('rawPath' in layer) return patternStep(layer, layer.rawPath);
  if (layer.regexp instanceof RegExp) {
    const alternatives = express4Alternatives(layer.regexp, layer.keys ?? []);
    if (alternatives?.length === templates.length) return alternativesStep(layer, templates, alternatives);
    return fixedStep(layer, ROUTE_REGEXP);
  }
  if (Array.isArray(layer.matchers) && layer.matchers.length === templates.length) {
    const matchers = layer.matchers;
    return {
      match(p) {
        for (let i = 0; i < matchers.length; i++) {
          const m = matchers[i]!(p);
          if (m) return { template: templates[i]!, length: m.path.length };
        }
        return undefined;
      },
    };
  }
  return fixedStep(layer, ROUTE_UNKNOWN);
}

/** router >= 2.3: `layer.match` keeps no state and says which of its paths matched. */
function patternStep(layer: LayerLike, rawPath: unknown): Step {
  if (!Array.isArray(rawPath)) return fixedStep(layer, routeTemplate(rawPath));
  return {
    match(path) {
      const m = layer.match?.(path);
      return m ? { template: routeTemplate(m.pattern), length: m.path.length } : undefined;
    },
  };
}

/** Express 4 arrays of paths: one compiled alternative per path, tried in order as Express does. */
function alternativesStep(layer: LayerLike, templates: string[], alternatives: { regexp: RegExp }[]): Step {
  if (templates.length === 1) return fixedStep(layer, templates[0]!);
  return {
    match(path) {
      for (let i = 0; i < alternatives.length; i++) {
        const m = alternatives[i]!.regexp.exec(path);
        if (m) return { template: templates[i]!, length: m[0].length };
      }
      return undefined;
    },
  };
}

/**
 * router < 2.3 keeps neither the path nor its keys, so the template is read back from the match. A
 * RegExp's matcher (`regexpMatcher`) matches text that no parameter names: it becomes a placeholder.
 */
function legacyMatchersStep(matchers: NonNullable<LayerLike['matchers']>): Step {
  return {
    match(path) {
      for (const matcher of matchers) {
        const m = matcher(path);
        if (!m) continue;
        const template = matcher.name === 'regexpMatcher' ? ROUTE_REGEXP : (templateFromMatch(m.path, m.params) ?? ROUTE_UNKNOWN);
        return { template, length: m.path.length };
      }
      return undefined;
    },
  };
}

function fixedStep(layer: LayerLike, template: string): Step {
  return {
    fixed: template,
    match(path) {
      const length = matchedLength(layer, path);
      return length === undefined ? undefined : { template, length };
    },
  };
}

/** How much of `path` the layer matches, with matchers that keep no state (Express 4's `match` does). */
function matchedLength(layer: LayerLike, path: string): number | undefined {
  if (layer.regexp instanceof RegExp) {
    if (layer.regexp.fast_slash) return 0;
    // A RegExp the app passed may be global or sticky; exec must not move its lastIndex.
    const re = layer.regexp.global || layer.regexp.sticky ? new RegExp(layer.regexp.source, layer.regexp.flags.replace(/[gy]/g, '')) : layer.regexp;
    return re.exec(path)?.[0].length;
  }
  if ('rawPath' in layer && typeof layer.match === 'function') {
    const m = layer.match(path);
    return m ? m.path.length : undefined;
  }
  if (layer.slash) return 0;
  for (const matcher of layer.matchers ?? []) {
    const m = matcher(path);
    if (m) return m.path.length;
  }
  return undefined;
}

function routeTemplate(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return ROUTE_REGEXP;
  return ROUTE_UNKNOWN;
}

function pathnameOf(request: ExpressRequest): string | undefined {
  let url = request.originalUrl ?? request.url;
  if (typeof url !== 'string') return undefined;
  if (!url.startsWith('/')) {
    const scheme = url.indexOf('://');
    const slash = scheme === -1 ? -1 : url.indexOf('/', scheme + 3);
    if (slash === -1) return undefined;
    url = url.slice(slash);
  }
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
