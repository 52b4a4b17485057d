import { crypto } from '../../src/lazy-crypto.js';
import net from 'node:net';

/** True for names and addresses that only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  // An IPv4 client of a dual-stack socket shows up as ::ffff:a.b.c.d.
  if (h.startsWith('::ffff:') && net.isIPv4(h.slice(7))) h = h.slice(7);
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Whether the routes may be served at all: off loopback (0.0.0.0, a LAN or public address) only behind
 * a token, because a heap snapshot holds every secret in memory.
 */
export function shouldServe(boundHost: string | undefined, token: string | undefined): boolean {
  return isLoopback(boundHost) || token !== undefined;
}

/** Why a caller was refused; a fixed set, so it can label a metric. */
export type Denial = 'no_token_configured' | 'missing_token' | 'wrong_token';
export type Access = { allowed: true } | { allowed: false; reason: string; denial: Denial };

/**
 * Loopback callers of a loopback-bound server pass; everyone else needs the bearer token. The rule looks
 * at where the server is bound, not only at the caller, so a server on 0.0.0.0 asks even local callers
 * (a proxy on the same host would otherwise make every remote caller look local).
 */
export function decideAccess(input: { boundHost: string | undefined; remoteAddress: string | undefined; token: string | undefined; authorization: string | undefined }): Access {
  if (isTrustedCaller(input.boundHost, input.remoteAddress)) return { allowed: true };
  if (input.token === undefined) return { allowed: false, denial: 'no_token_configured', reason: 'this route needs a token and none is configured (diagnostics.token)' };
  const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(input.authorization ?? '')?.[1];
  if (presented === undefined) return { allowed: false, denial: 'missing_token', reason: 'missing bearer token (Authorization: Bearer <token>)' };
  if (!tokensMatch(presented, input.token)) return { allowed: false, denial: 'wrong_token', reason: 'wrong token' };
  return { allowed: true };
}

/** Whether `decideAccess` lets this caller in without looking at a token (so it can never fail). */
export function isTrustedCaller(boundHost: string | undefined, remoteAddress: string | undefined): boolean {
  return isLoopback(boundHost) && isLoopback(remoteAddress);
}

/**
 * The key failed attempts are counted under: the IPv4 address (also when it arrives IPv4-mapped), or
 * the /64 of an IPv6 address, since one IPv6 host usually holds a whole /64 and could otherwise take a
 * fresh address per guess.
 */
export function failureKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  let h = remoteAddress.toLowerCase();
  if (h.startsWith('::ffff:') && net.isIPv4(h.slice(7))) h = h.slice(7);
  if (!net.isIPv6(h)) return h;
  const [head = '', tail = ''] = h.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = h.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Constant-time comparison; hashing first makes the lengths equal, so not even the length leaks. */
export function tokensMatch(presented: string, expected: string): boolean {
  const { createHash, timingSafeEqual } = crypto();
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
