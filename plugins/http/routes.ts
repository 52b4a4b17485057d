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

/**
 * The value of parameter `name` of `template` (`/t/:tenant/*`) in `url`, which the template matched: the
 * segment at the parameter's place, percent-decoded when it decodes. Undefined when the template has none.
 */
export function templateParam(template: string, url: string, name: string): string | undefined {
  const index = template.split('/').indexOf(`:${name}`);
  if (index === -1) return undefined;
  const q = url.indexOf('?');
  const segment = (q === -1 ? url : url.slice(0, q)).split('/')[index];
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
