import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import { registerOfflineCache } from './offline';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('factlab: the page has no #root element');

registerOfflineCache();

createRoot(root).render(
  <StrictMode>
    <ErrorBoundary>
      <App />
    </ErrorBoundary>
  </StrictMode>,
);
