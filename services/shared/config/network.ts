import { isIP } from 'node:net';

/**
 * Host names and addresses as settings accept them: an IP literal (IPv6 also in brackets) or an
 * RFC 1123 host name (dot-separated labels of letters, digits and hyphens, 1-63 characters each,
 * not starting or ending with a hyphen, 253 characters at most, an optional final dot). A name whose
 * last label is all digits (999.1.1.1, 1.2.3) is not a name but a broken address, as RFC 1123
 * §2.1 says, and getaddrinfo would read "123" as 0.0.0.123.
 */
export function parseHost(value: string): string | undefined {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIP(bare) !== 0) return bare;
  if (bare !== value) return undefined;
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  if (!labels.every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))) return undefined;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return undefined;
  return value;
}

/** What parseHost accepts, for messages; `portVariable` is where a port belongs instead. */
export function hostHint(portVariable: string): string {
  return `an IP address (like 0.0.0.0, 127.0.0.1 or ::) or a host name (RFC 1123: letters, digits and hyphens in dot-separated labels), without a port (that is ${portVariable})`;
}
