// The sign-in form: a token pasted, checked by the host (POST /api/session) before the page uses it.
import { type FormEvent, useState } from 'react';
import { Field } from '../ui.tsx';
import { signIn } from '../session.ts';

export function SignIn({ reason }: { reason: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const problem = await signIn(token);
    setBusy(false);
    setError(problem);
  };

  return (
    <section className="sign-in">
      <h1>Sign in</h1>
      {reason && <p role="status">{reason}</p>}
      <p>
        The API needs a token. <code>npm start</code> prints a sign-in link; an operator mints one with{' '}
        <code>npm run token -- --role host --sub &lt;you&gt;</code>. Admins see everything, hosts manage their own events, viewers only read.
      </p>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Token" hint="Kept in this tab only (sessionStorage) until you sign out or close it." error={error}>
          {(ids) => <input {...ids} name="token" type="password" autoComplete="off" spellCheck={false} value={token} onChange={(e) => setToken(e.target.value)} />}
        </Field>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </section>
  );
}
