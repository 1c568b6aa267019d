// The page's frame: skip link, navigation, the API banner, and the view of the current path.
import { useEffect, useRef } from 'react';
import { parseRoute } from './lib/routes.ts';
import { Link, useNavigation } from './navigation.tsx';
import { ApiBanner } from './ui.tsx';
import { Board } from './views/Board.tsx';
import { EventEditor } from './views/EventEditor.tsx';
import { EventList } from './views/EventList.tsx';
import { Flow } from './views/Flow.tsx';
import { Guests } from './views/Guests.tsx';

const nav = [
  { href: '/', label: 'Events', match: ['events', 'board', 'edit'] },
  { href: '/events/new', label: 'New event', match: ['new'] },
  { href: '/flow', label: 'Message flow', match: ['flow'] },
  { href: '/guests', label: 'Guests', match: ['guests'] },
];

export function App() {
  const { path } = useNavigation();
  const route = parseRoute(path);
  const main = useRef<HTMLElement>(null);
  const shown = useRef(path);

  // After a navigation, focus moves to the new view (its heading is read out), as a page load would;
  // on the first load it stays at the top, where the skip link is.
  useEffect(() => {
    if (shown.current === path) return;
    shown.current = path;
    main.current?.focus();
  }, [path]);

  let view: React.ReactNode;
  switch (route.name) {
    case 'events':
      view = <EventList />;
      break;
    case 'new':
      view = <EventEditor />;
      break;
    case 'edit':
      view = <EventEditor key={route.id} id={route.id} />;
      break;
    case 'board':
      view = <Board key={route.id} id={route.id} />;
      break;
    case 'flow':
      view = <Flow />;
      break;
    case 'guests':
      view = <Guests />;
      break;
    case 'not_found':
      view = (
        <section>
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <Link href="/">See the events</Link>.
          </p>
        </section>
      );
  }
  useEffect(() => {
    const titles: Record<string, string> = { events: 'Events', new: 'New event', edit: 'Update event', board: 'Event board', flow: 'Message flow', guests: 'Guests' };
    document.title = `${titles[route.name] ?? 'Not found'} · event-planner`;
  }, [route.name]);

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          event-planner
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.match.includes(route.name) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <ApiBanner />
      <main id="main" ref={main} tabIndex={-1}>
        {view}
      </main>
    </>
  );
}
