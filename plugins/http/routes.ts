/**
 * Matches a URL path against configured route templates (`/users/:id/plans`, `/static/*`), so plain
 * `node:http` servers get a bounded `http.route` and never a raw path.
 */
export class RouteMatcher {
  private readonly bySegments = new Map<number, { template: string; parts: string[] }[]>();
  private readonly rest: { template: string; parts: string[] }[] = [];

  constructor(templates: readonly string[]) {
    for (const template of templates) {
      const parts = template.split('/').slice(1);
      if (parts.at(-1) === '*') this.rest.push({ template, parts: parts.slice(0, -1) });
      else {
        const list = this.bySegments.get(parts.length) ?? [];
        list.push({ template, parts });
        this.bySegments.set(parts.length, list);
      }
    }
  }

  get empty(): boolean {
    return this.bySegments.size === 0 && this.rest.length === 0;
  }

  match(url: string): string | undefined {
    const q = url.indexOf('?');
    const segments = (q === -1 ? url : url.slice(0, q)).split('/').slice(1);
    for (const route of this.bySegments.get(segments.length) ?? []) {
      if (matches(route.parts, segments)) return route.template;
    }
    for (const route of this.rest) {
      if (segments.length >= route.parts.length && matches(route.parts, segments)) return route.template;
    }
    return undefined;
  }
}

function matches(parts: string[], segments: string[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.startsWith(':')) {
      if (segments[i] === '') return false;
    } else if (part !== segments[i]) return false;
  }
  return true;
}

/** Where each parameter sits in a template (`/t/:tenant/*` → tenant: 2), per template; bounded by `http.routes` (≤ 1000). */
const paramIndexes = new Map<string, Map<string, number>>();

/**
 * The value of parameter `name` of `template` (`/t/:tenant/*`) in `url`, which the template matched: the
 * segment at the parameter's place, percent-decoded when it decodes. Undefined when the template has none.
 */
export function templateParam(template: string, url: string, name: string): string | undefined {
  let indexes = paramIndexes.get(template);
  if (!indexes) {
    indexes = new Map();
    template.split('/').forEach((part, i) => {
      if (part.startsWith(':')) indexes!.set(part.slice(1), i);
    });
    if (template.startsWith('/')) paramIndexes.set(template, indexes); // a template, not `_UNMATCHED` or a framework's value
  }
  const index = indexes.get(name);
  if (index === undefined) return undefined;
  // The segment after the index-th slash, up to the next slash or the query.
  let start = 0;
  for (let i = 0; i < index; i++) {
    start = url.indexOf('/', start) + 1;
    if (start === 0) return undefined;
  }
  let end = start;
  while (end < url.length && url[end] !== '/' && url[end] !== '?') end++;
  const segment = url.slice(start, end);
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
