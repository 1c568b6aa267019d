// Small shared pieces: labelled fields with their hint and error, state badges, the API banner.
import { type ReactNode, useId } from 'react';
import { useConnectivity } from './connectivity.ts';
import { type RowState, stateLabels } from './lib/board.ts';

export interface FieldProps {
  label: string;
  hint?: string;
  error?: string | undefined;
  /** Renders the control with the ids it must carry. */
  children: (ids: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ReactNode;
  className?: string;
}

/** A label, the control, a hint and the API's message for this field (linked by aria-describedby). */
export function Field({ label, hint, error, children, className }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [error ? errorId : '', hint ? hintId : ''].filter(Boolean).join(' ');
  return (
    <div className={`field${error ? ' field-invalid' : ''}${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, ...(describedBy ? { 'aria-describedby': describedBy } : {}), ...(error ? { 'aria-invalid': true } : {}) })}
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      {error && (
        <p className="error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

export function StateBadge({ state }: { state: RowState }) {
  return <span className={`badge state-${state}`}>{stateLabels[state]}</span>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}

/** Shown while the API cannot be reached; gone by itself when it answers again. */
export function ApiBanner() {
  const c = useConnectivity();
  return (
    <div className="banner-slot" aria-live="assertive" aria-atomic="true">
      {!c.up && (
        <div className="banner" data-testid="api-banner">
          <strong>The API is unreachable</strong> ({c.reason}). Retrying; the page will catch up by itself.
        </div>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </p>
  );
}

/** An ISO date-time or epoch milliseconds, in the reader's locale and zone. */
export function formatTime(at: string | number | undefined): string {
  if (at === undefined || at === '') return '–';
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
