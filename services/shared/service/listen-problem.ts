import { problemText } from '../config/env.ts';

/**
 * What a failed HTTP listen says about PORT or LISTEN_HOST, worded like every other configuration
 * problem (the process then exits 2); undefined for an error that is not about them. The error code
 * stays in the text: tests retry a start whose free port another process took (EADDRINUSE).
 */
export function listenProblem(error: unknown, port: number, host: string): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return problemText('PORT', String(port), `a port nothing else listens on at LISTEN_HOST=${host} (EADDRINUSE: this one is in use)`);
    case 'EACCES':
      return problemText('PORT', String(port), `a port this user may listen on at LISTEN_HOST=${host} (EACCES: ports below 1024 need privileges)`);
    case 'EADDRNOTAVAIL':
      return problemText('LISTEN_HOST', host, 'an address of this machine, or 0.0.0.0 / :: for all of them (EADDRNOTAVAIL)');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return problemText('LISTEN_HOST', host, `an address of this machine or a name that resolves to one (getaddrinfo ${code})`);
    default:
      return undefined;
  }
}
