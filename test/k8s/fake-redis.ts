import { type Server, createServer } from 'node:net';

/**
 * A TCP server speaking just enough RESP to answer like a Redis that is still replaying its AOF:
 * AUTH succeeds, every other command gets `-LOADING`. Real Redis is in that state only briefly, so
 * the probes' handling of it is tested against this stand-in.
 */
export async function startLoadingRedis(): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        const parsed = parseCommand(buffer);
        if (!parsed) break;
        buffer = buffer.slice(parsed.consumed);
        const name = parsed.args[0]?.toUpperCase();
        socket.write(name === 'AUTH' ? '+OK\r\n' : '-LOADING Redis is loading the dataset in memory\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** One RESP array of bulk strings from the start of `text`, or undefined when incomplete. */
function parseCommand(text: string): { args: string[]; consumed: number } | undefined {
  const header = /^\*(\d+)\r\n/.exec(text);
  if (!header) return undefined;
  let offset = header[0].length;
  const args: string[] = [];
  for (let i = 0; i < Number(header[1]); i += 1) {
    const bulk = /^\$(\d+)\r\n/.exec(text.slice(offset));
    if (!bulk) return undefined;
    const start = offset + bulk[0].length;
    const end = start + Number(bulk[1]);
    if (text.length < end + 2) return undefined;
    args.push(text.slice(start, end));
    offset = end + 2;
  }
  return { args, consumed: offset };
}
