/**
 * Matches a URL path against configured route templates (`/users/:id/plans`, `/static/*`), so plain
 * `node:http` servers get a bounded `http.route` and never a raw path.
 */
export class RouteMatcher {
  private readonly bySegments = new Map<number, { template: string; parts: string[] }[]>();
  private readonly rest: { template: string; parts: string[] }[] = [];
  /** Per template, where each parameter sits (`/t/:tenant/*` → tenant: 2), for `param()`. */
  private readonly params = new Map<string, Map<string, number>>();

  constructor(templates: readonly string[]) {
    for (const template of templates) {
      const indexes = new Map<string, number>();
      template.split('/').forEach((part, i) => {
        if (part.startsWith(':')) indexes.set(part.slice(1), i);
      });
      this.params.set(template, indexes);
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

  /**
   * The value of parameter `name` in `url`, which `template` (one of this matcher's) matched; undefined
   * when the template is not one of its own or has no such parameter.
   */
  param(template: string, url: string, name: string): string | undefined {
    const index = this.params.get(template)?.get(name);
    return index === undefined ? undefined : segmentAt(url, index);
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

/**
 * The value of the parameter at `index` (`/t/:tenant/*` → tenant: 2) in `url`: the segment after the
 * index-th slash, up to the next slash or the query, percent-decoded when it decodes.
 */
function segmentAt(url: string, index: number): string | undefined {
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
