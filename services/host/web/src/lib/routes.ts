// The page's own paths (served by the host's SPA fallback, services/host/web/serve.ts clientRoutes).
export type Route =
  | { name: 'events' }
  | { name: 'new' }
  | { name: 'board'; id: string }
  | { name: 'edit'; id: string }
  | { name: 'flow' }
  | { name: 'guests' }
  | { name: 'not_found'; path: string };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/events') return { name: 'events' };
  if (path === '/events/new') return { name: 'new' };
  if (path === '/flow') return { name: 'flow' };
  if (path === '/guests') return { name: 'guests' };
  const edit = /^\/events\/([^/]+)\/edit$/.exec(path);
  if (edit) return { name: 'edit', id: decodeURIComponent(edit[1]!) };
  const board = /^\/events\/([^/]+)$/.exec(path);
  if (board) return { name: 'board', id: decodeURIComponent(board[1]!) };
  return { name: 'not_found', path };
}

export function routePath(r: Route): string {
  switch (r.name) {
    case 'events':
      return '/';
    case 'new':
      return '/events/new';
    case 'board':
      return `/events/${encodeURIComponent(r.id)}`;
    case 'edit':
      return `/events/${encodeURIComponent(r.id)}/edit`;
    case 'flow':
      return '/flow';
    case 'guests':
      return '/guests';
    case 'not_found':
      return r.path;
  }
}
