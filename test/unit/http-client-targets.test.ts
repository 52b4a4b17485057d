import { describe, expect, it } from 'vitest';
import { Targets, errorAttributes, errorTypeOf, methodIndex, parseAuthority, responseAttributes } from '../../plugins/http-client/targets.js';

describe('http-client targets', () => {
  it('parses host headers and origins, IPv6 included, with default ports by scheme', () => {
    expect(parseAuthority('Example.com', 80)).toEqual({ address: 'example.com', port: 80 });
    expect(parseAuthority('example.com:8080', 80)).toEqual({ address: 'example.com', port: 8080 });
    expect(parseAuthority('[::1]:3000', 80)).toEqual({ address: '::1', port: 3000 });
    expect(parseAuthority('[::1]', 443)).toEqual({ address: '::1', port: 443 });
    expect(parseAuthority('::1', 80)).toEqual({ address: '::1', port: 80 });
    const targets = new Targets(10, new Set(), () => {});
    expect(targets.forOrigin('https://api.example.com')).toMatchObject({ address: 'api.example.com', port: 443 });
    expect(targets.forOrigin('http://127.0.0.1:9000')).toMatchObject({ address: '127.0.0.1', port: 9000 });
    expect(targets.forAuthority('https:', 'api.example.com')).toBe(targets.forOrigin('https://api.example.com'));
    expect(targets.forAuthority('http:', 'api.example.com')).toMatchObject({ port: 80 });
  });

  it('bounds distinct hosts: over the bound, one _OTHER entry without a port, and one warning call per miss', () => {
    let overflows = 0;
    const targets = new Targets(2, new Set(['skip.me']), () => overflows++);
    targets.forOrigin('http://a:1');
    targets.forOrigin('http://b:1');
    const other = targets.forOrigin('http://c:1');
    expect(other).toMatchObject({ address: '_OTHER', port: undefined });
    expect(targets.forOrigin('http://d:1')).toBe(other);
    expect(targets.size).toBe(2);
    expect(overflows).toBe(2);
    // A known host keeps its entry under every spelling.
    expect(targets.forAuthority('http:', 'A:1')).toBe(targets.forOrigin('http://a:1'));
    expect(new Targets(5, new Set(['skip.me']), () => {}).forOrigin('https://skip.me').ignored).toBe(true);
  });

  it('builds each attribute object once per (host, method, status) and marks 4xx/5xx with error.type', () => {
    const target = new Targets(5, new Set(), () => {}).forOrigin('http://a:1');
    const ok = responseAttributes(target, methodIndex('GET'), 200);
    expect(ok).toEqual({ 'http.request.method': 'GET', 'server.address': 'a', 'server.port': 1, 'http.response.status_code': 200 });
    expect(responseAttributes(target, methodIndex('GET'), 200)).toBe(ok);
    expect(responseAttributes(target, methodIndex('POST'), 200)).not.toBe(ok);
    expect(responseAttributes(target, methodIndex('GET'), 503)).toMatchObject({ 'error.type': '503' });
    expect(responseAttributes(target, methodIndex('PURGE'), 200)).toMatchObject({ 'http.request.method': '_OTHER' });
    const failed = errorAttributes(target, methodIndex('GET'), 'ECONNREFUSED');
    expect(failed).toEqual({ 'http.request.method': 'GET', 'server.address': 'a', 'server.port': 1, 'error.type': 'ECONNREFUSED' });
    expect(errorAttributes(target, methodIndex('GET'), 'ECONNREFUSED')).toBe(failed);
  });

  it('names errors by code, then by name, else _OTHER', () => {
    expect(errorTypeOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorTypeOf(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(errorTypeOf(new DOMException('aborted', 'AbortError'))).toBe('AbortError');
    expect(errorTypeOf(new Error('plain'))).toBe('_OTHER');
    expect(errorTypeOf(Object.assign(new Error('x'), { code: 'not a code with spaces' }))).toBe('_OTHER');
    expect(errorTypeOf(undefined)).toBe('_OTHER');
  });
});
