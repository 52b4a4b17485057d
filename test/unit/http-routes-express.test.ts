import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ExpressRoutes, type ExpressRequest } from '../../plugins/http/express.js';

// Real Express 4 and 5 layer trees, with the request fields Express leaves behind; no server needed.
const require = createRequire(import.meta.url);
interface Route {
  get(fn: (...args: unknown[]) => void): Route;
}
interface Router {
  use(...args: unknown[]): Router;
  route(path: unknown): Route;
}
type Express = (() => Router & { parent?: unknown }) & { Router(options?: object): Router };
const versions: [string, Express][] = [
  ['Express 4', require('express4') as Express],
  ['Express 5', require('express') as Express],
];
const noop = (): void => {};

describe.each(versions)('ExpressRoutes on %s', (_name, express) => {
  const routes = new ExpressRoutes();
  const request = (app: unknown, route: Route | undefined, originalUrl: string, baseUrl = ''): ExpressRequest =>
    ({ app, route, originalUrl, baseUrl }) as ExpressRequest;

  it('has no route when none matched', () => {
    expect(routes.routeOf(request(express(), undefined, '/nope'))).toBeUndefined();
  });

  it('tells apart the mounts of a router reused at two paths and at an array of paths', () => {
    const app = express();
    const shared = express.Router();
    const item = shared.route('/items/:id').get(noop);
    app.use('/a/:tenant', shared);
    app.use(['/b', '/c'], shared);
    expect(routes.routeOf(request(app, item, '/a/acme/items/1'))).toBe('/a/:tenant/items/:id');
    expect(routes.routeOf(request(app, item, '/b/items/2?x=/a/y'))).toBe('/b/items/:id');
    expect(routes.routeOf(request(app, item, '/c/items/3'))).toBe('/c/items/:id');
    // A path no chain matches (the route ran, then the URL was rewritten) never falls back to raw text.
    expect(routes.routeOf(request(app, item, '/zzz/items/4'))).toBe('/{unknown}/items/:id');
  });

  it('prefixes the mount path of a sub-app, also when the error left the sub-app', () => {
    const app = express();
    const admin = express();
    const users = express.Router();
    const user = users.route('/users/:id').get(noop);
    admin.use('/v1', users);
    app.use('/admin', admin as unknown as Router);
    expect(routes.routeOf(request(admin, user, '/admin/v1/users/7'))).toBe('/admin/v1/users/:id');
    // After the sub-app, req.app is the parent again: the route is not in its own tree.
    expect(routes.routeOf(request(app, user, '/admin/v1/users/7'))).toBe('/{unknown}/users/:id');
  });

  it('stops at a router mounted inside itself', () => {
    const app = express();
    const loop = express.Router();
    loop.use('/again', loop);
    const leaf = loop.route('/leaf').get(noop);
    app.use('/loop', loop);
    expect(routes.routeOf(request(app, leaf, '/loop/leaf'))).toBe('/loop/leaf');
  });
});

describe('ExpressRoutes on layers that keep no path (router < 2.3)', () => {
  // The shape of router 2.0-2.2 layers: `matchers` closures, `slash` for root mounts, nothing else.
  const route = { path: '/profile' };
  const routeLayer = { route, matchers: [(p: string) => (p === '/profile' ? { path: '/profile', params: {} } : false)] };
  const mount = (prefix: RegExp, name: string, stack: unknown[], matcherName?: string): unknown => {
    const matcher = (p: string) => {
      const m = prefix.exec(p);
      return m ? { path: m[0], params: m[1] === undefined ? {} : { [name]: decodeURIComponent(m[1]) } } : false;
    };
    if (matcherName) Object.defineProperty(matcher, 'name', { value: matcherName });
    return { matchers: [matcher], handle: Object.assign(noop.bind(null), { stack }) };
  };

  it('reads parameter names back from the match and never keeps their values', () => {
    const app = { router: { stack: [mount(/^\/accounts\/([^/]+)/, 'email', [routeLayer])] } };
    const routes = new ExpressRoutes();
    const req = { app, route, originalUrl: '/accounts/ann%40example.com/profile' } as ExpressRequest;
    expect(routes.routeOf(req)).toBe('/accounts/:email/profile');
  });

  it('writes a RegExp mount as {regexp}', () => {
    const app = { router: { stack: [mount(/^\/r\d+/, 'x', [routeLayer], 'regexpMatcher')] } };
    expect(new ExpressRoutes().routeOf({ app, route, originalUrl: '/r12/profile' } as ExpressRequest)).toBe('/{regexp}/profile');
  });
});
