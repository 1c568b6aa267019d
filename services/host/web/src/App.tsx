// The page's frame: skip link, navigation, the API banner, and the view of the current path.
import { useEffect, useRef } from 'react';
import { parseRoute } from './lib/routes.ts';
import { Link, useNavigation } from './navigation.tsx';
import { signOut, useSession } from './session.ts';
import { ApiBanner } from './ui.tsx';
import { Board } from './views/Board.tsx';
import { EventEditor } from './views/EventEditor.tsx';
import { EventList } from './views/EventList.tsx';
import { Flow } from './views/Flow.tsx';
import { Guests } from './views/Guests.tsx';
import { SignIn } from './views/SignIn.tsx';

// Who sees which link: a viewer creates nothing; a host does not see the whole system (the API
// refuses it those routes anyway: this only keeps dead links off its page).
const nav = [
  { href: '/', label: 'Events', match: ['events', 'board', 'edit'], roles: ['admin', 'host', 'viewer'] },
  { href: '/events/new', label: 'New event', match: ['new'], roles: ['admin', 'host'] },
  { href: '/flow', label: 'Message flow', match: ['flow'], roles: ['admin', 'viewer'] },
  { href: '/guests', label: 'Guests', match: ['guests'], roles: ['admin', 'viewer'] },
];

export function App() {
  const { path } = useNavigation();
  const route = parseRoute(path);
  const main = useRef<HTMLElement>(null);
  const shown = useRef(path);
  const session = useSession();
  const signedIn = session.kind === 'signed_in';
  const wasSignedIn = useRef(signedIn);

  // After a navigation, focus moves to the new view (its heading is read out), as a page load would;
  // on the first load it stays at the top, where the skip link is.
  useEffect(() => {
    if (shown.current === path) return;
    shown.current = path;
    main.current?.focus();
  }, [path]);
  // Signing in or out replaces the view under the focus: focus moves to the new view, as after a navigation.
  useEffect(() => {
    if (wasSignedIn.current === signedIn) return;
    wasSignedIn.current = signedIn;
    if (session.kind !== 'checking') main.current?.focus();
  }, [signedIn, session.kind]);

  let view: React.ReactNode;
  if (session.kind === 'checking') view = <p role="status">Checking the session…</p>;
  else if (session.kind === 'signed_out') view = <SignIn reason={session.reason} />;
  else switch (route.name) {
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
    document.title = `${session.kind === 'signed_out' ? 'Sign in' : (titles[route.name] ?? 'Not found')} · event-planner`;
  }, [route.name, session.kind]);
  const role = session.kind === 'signed_in' ? session.role : undefined;

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
            {nav.filter((n) => role !== undefined && n.roles.includes(role)).map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.match.includes(route.name) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {session.kind === 'signed_in' && (
          <p className="who">
            {session.auth ? (
              <>
                {session.sub} ({session.role}){' '}
                <button type="button" className="link-button" onClick={() => void signOut()}>
                  Sign out
                </button>
              </>
            ) : (
              <span className="open-api">API open (API_AUTH=off)</span>
            )}
          </p>
        )}
      </header>
      <ApiBanner />
      <main id="main" ref={main} tabIndex={-1}>
        {view}
      </main>
    </>
  );
}
