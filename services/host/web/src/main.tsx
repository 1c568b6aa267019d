import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { NavigationProvider } from './navigation.tsx';
import { restoreSession } from './session.ts';
import './styles.css';

void restoreSession();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <NavigationProvider>
      <App />
    </NavigationProvider>
  </StrictMode>,
);
