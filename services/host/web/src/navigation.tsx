// Client-side navigation without a router library: history.pushState plus a context holding the
// current path. The host serves the page for every path of routes.ts (SPA fallback).
import { type AnchorHTMLAttributes, type MouseEvent, createContext, useCallback, useContext, useEffect, useState } from 'react';

const NavContext = createContext<{ path: string; navigate: (to: string) => void }>({ path: '/', navigate: () => undefined });

export function useNavigation(): { path: string; navigate: (to: string) => void } {
  return useContext(NavContext);
}

export function NavigationProvider({ children }: { children: React.ReactNode }) {
  const [path, setPath] = useState(() => window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string) => {
    if (to !== window.location.pathname + window.location.search) window.history.pushState(null, '', to);
    setPath(new URL(to, window.location.href).pathname);
    window.scrollTo(0, 0);
  }, []);
  return <NavContext.Provider value={{ path, navigate }}>{children}</NavContext.Provider>;
}

/** An ordinary link (opens in a new tab with a modifier key) that navigates in place otherwise. */
export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { navigate } = useNavigation();
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={handle} {...rest} />;
}
