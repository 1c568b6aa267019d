// Creates an event (POST /api/events) or changes one (PATCH with If-Match), with every option of
// the event model. The API's 400 names a field: its message is shown beside that field, which
// gets the focus.
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { ApiProblem, apiCall, getJson } from '../api.ts';
import { type EventForm, type FieldErrors, type QuestionDraft, changedFields, dietaryDraft, emptyForm, fieldOfError, formFromBody, formToBody, usesGuests, usesTags } from '../lib/form.ts';
import type { Accepted, EventView, Roster } from '../lib/types.ts';
import { Link, useNavigation } from '../navigation.tsx';
import { ErrorNote, Field, Loading } from '../ui.tsx';
import { QuestionsEditor } from './QuestionsEditor.tsx';

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const zones: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
  } catch {
    return [browserZone];
  }
})();

export function EventEditor({ id }: { id?: string }) {
  const { navigate } = useNavigation();
  const [form, setForm] = useState<EventForm | null>(id ? null : emptyForm(browserZone));
  const [original, setOriginal] = useState<{ view: EventView; etag: string | null } | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [roster, setRoster] = useState<Roster | null>(null);
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    getJson<Roster>('/api/guests').then(setRoster, () => setRoster(null));
    if (!id) return;
    apiCall<EventView>('GET', `/api/events/${encodeURIComponent(id)}`).then(
      ({ body, etag }) => {
        setOriginal({ view: body, etag });
        // Once shown, the form is the person's: a late answer never overwrites what they typed.
        setForm((f) => f ?? formFromBody(body.definition, browserZone));
      },
      setLoadError,
    );
  }, [id]);

  const tags = useMemo(() => [...new Set((roster?.guests ?? []).flatMap((g) => g.tags))].sort(), [roster]);

  // After a refused submit, the first field at fault takes the focus (its message is read with it).
  useEffect(() => {
    const first = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    first?.focus();
  }, [errors]);

  if (loadError) return <ErrorNote error={loadError} />;
  if (!form) return <Loading what="the event" />;

  const set = <K extends keyof EventForm>(name: K, value: EventForm[K]) => {
    setForm((f) => (f ? { ...f, [name]: value } : f));
    if (errors[name]) setErrors((e) => ({ ...e, [name]: undefined }));
  };
  const text = (name: keyof EventForm) => ({
    value: form[name] as string,
    onChange: (e: { target: { value: string } }) => set(name, e.target.value as never),
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { body, errors: local } = formToBody(form, browserZone);
    if (Object.values(local).some(Boolean)) {
      setErrors(local);
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      if (!original) {
        const created = await apiCall<Accepted>('POST', '/api/events', form.id.trim() ? { ...body, id: form.id.trim() } : body);
        navigate(`/events/${encodeURIComponent(created.body.id)}`);
      } else {
        const patch = changedFields(original.view.definition, body);
        if (Object.keys(patch).length === 0) {
          setErrors({ form: 'Nothing changed.' });
          return;
        }
        const headers: Record<string, string> = original.etag ? { 'if-match': original.etag } : {};
        await apiCall<Accepted>('PATCH', `/api/events/${encodeURIComponent(original.view.id)}`, patch, headers);
        navigate(`/events/${encodeURIComponent(original.view.id)}`);
      }
    } catch (error) {
      if (error instanceof ApiProblem) {
        let where = fieldOfError(error.field, form);
        // A field this form does not show now (the id of an existing event, a list the targeting hides): the message goes on top.
        const hidden = (where === 'id' && original) || (where === 'target_tags' && !usesTags(form.targeting)) || (where === 'target_guests' && !usesGuests(form.targeting));
        if (hidden) where = 'form';
        const message = error.status === 412 ? 'The event changed meanwhile: reload it and apply your change again.' : error.message;
        setErrors({ [where]: message });
      } else {
        setErrors({ form: String(error) });
      }
    } finally {
      setBusy(false);
    }
  };

  const title = original ? `Update “${String(original.view.definition.event_name ?? original.view.id)}”` : 'New event';
  const err = (name: keyof EventForm) => errors[name];

  return (
    <section aria-labelledby="editor-title">
      <h1 id="editor-title">{title}</h1>
      {original && (
        <p className="muted">
          Changing the date, time, zone, duration, location, status or questions starts a new version: every guest is asked
          again. Other changes keep the answers.
        </p>
      )}
      <form ref={formRef} onSubmit={submit} noValidate aria-describedby={errors.form ? 'form-error' : undefined}>
        <fieldset>
          <legend>What and when</legend>
          <div className="grid">
            <Field label="Name" error={err('event_name')} className="wide">
              {(ids) => <input {...ids} {...text('event_name')} name="event_name" required maxLength={200} autoComplete="off" />}
            </Field>
            <Field label="Date" error={err('event_date')}>
              {(ids) => <input {...ids} {...text('event_date')} name="event_date" type="date" required />}
            </Field>
            <Field label="Start time" hint="Leave empty for an all-day event." error={err('event_time')}>
              {(ids) => <input {...ids} {...text('event_time')} name="event_time" type="time" />}
            </Field>
            <Field label="Time zone" hint="IANA name, e.g. Europe/Paris." error={err('timezone')}>
              {(ids) => <input {...ids} {...text('timezone')} name="timezone" list="zone-list" autoComplete="off" />}
            </Field>
            <Field label="Duration (minutes)" error={err('duration_minutes')}>
              {(ids) => <input {...ids} {...text('duration_minutes')} name="duration_minutes" inputMode="numeric" />}
            </Field>
            <Field label="Location" error={err('location')} className="wide">
              {(ids) => <input {...ids} {...text('location')} name="location" maxLength={500} />}
            </Field>
            <Field label="Description" error={err('description')} className="wide">
              {(ids) => <textarea {...ids} {...text('description')} name="description" rows={3} maxLength={4000} />}
            </Field>
            <Field label="Host name" hint="The organizer; the host's HOST_NAME when empty." error={err('host_name')}>
              {(ids) => <input {...ids} {...text('host_name')} name="host_name" maxLength={200} />}
            </Field>
            <Field label="Status" error={err('status')}>
              {(ids) => (
                <select {...ids} name="status" value={form.status} onChange={(e) => set('status', e.target.value as EventForm['status'])}>
                  <option value="confirmed">confirmed</option>
                  <option value="tentative">tentative</option>
                </select>
              )}
            </Field>
          </div>
          <datalist id="zone-list">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </fieldset>

        <fieldset>
          <legend>Replies</legend>
          <div className="grid">
            <Field label="RSVP deadline" hint="In the event's time zone; the coordinator's default when empty." error={err('rsvp_deadline')}>
              {(ids) => <input {...ids} {...text('rsvp_deadline')} name="rsvp_deadline" type="datetime-local" />}
            </Field>
            <Field label="Reminders (minutes before the deadline)" hint="Up to 5, e.g. 60, 10." error={err('reminders')}>
              {(ids) => <input {...ids} {...text('reminders')} name="reminders" inputMode="numeric" />}
            </Field>
            <Field label="Start reminders (minutes before the start)" hint="Sent to confirmed guests, e.g. 1440." error={err('start_reminders')}>
              {(ids) => <input {...ids} {...text('start_reminders')} name="start_reminders" inputMode="numeric" />}
            </Field>
            <div className="field check">
              <input id="remind-tentative" type="checkbox" name="remind_tentative" checked={form.remind_tentative} onChange={(e) => set('remind_tentative', e.target.checked)} />
              <label htmlFor="remind-tentative">Remind tentative guests too</label>
              {err('remind_tentative') && <p className="error">{err('remind_tentative')}</p>}
            </div>
          </div>
        </fieldset>

        <fieldset>
          <legend>Attendance</legend>
          <div className="grid">
            <Field label="Capacity (headcount)" hint="Guests plus their plus-ones; empty or 0: unlimited. Beyond it, acceptances are waitlisted." error={err('capacity')}>
              {(ids) => <input {...ids} {...text('capacity')} name="capacity" inputMode="numeric" />}
            </Field>
            <Field label="Plus-ones per guest" hint="0: none." error={err('plus_ones_max')}>
              {(ids) => <input {...ids} {...text('plus_ones_max')} name="plus_ones_max" inputMode="numeric" />}
            </Field>
          </div>
        </fieldset>

        <QuestionsEditor
          questions={form.questions}
          error={err('questions')}
          onChange={(questions: QuestionDraft[]) => set('questions', questions)}
          onAddDietary={() => set('questions', [...form.questions, dietaryDraft()])}
        />

        <fieldset>
          <legend>Who is invited</legend>
          <div className="radios" role="radiogroup" aria-label="Targeting">
            {(
              [
                ['all', 'All live guests'],
                ['tags', 'Guests with any of these tags'],
                ['guests', 'These guests'],
                ['both', 'Guests with these tags, and these guests'],
              ] as const
            ).map(([value, label]) => (
              <label key={value} className="radio">
                <input type="radio" name="targeting" value={value} checked={form.targeting === value} onChange={() => set('targeting', value)} /> {label}
              </label>
            ))}
          </div>
          <div className="grid">
            {usesTags(form.targeting) && (
              <Field label="Tags" hint={tags.length ? `Known tags: ${tags.slice(0, 12).join(', ')}${tags.length > 12 ? ', …' : ''}` : 'Comma-separated, e.g. enthusiasts, vip.'} error={err('target_tags')} className="wide">
                {(ids) => <input {...ids} {...text('target_tags')} name="target_tags" autoComplete="off" />}
              </Field>
            )}
            {usesGuests(form.targeting) && (
              <Field label="Guest ids" hint="Comma-separated; see the Guests page." error={err('target_guests')} className="wide">
                {(ids) => <textarea {...ids} {...text('target_guests')} name="target_guests" rows={2} />}
              </Field>
            )}
            <Field label="Never invite (guest ids)" hint="Comma-separated." error={err('exclude_guests')} className="wide">
              {(ids) => <input {...ids} {...text('exclude_guests')} name="exclude_guests" autoComplete="off" />}
            </Field>
          </div>
        </fieldset>

        <fieldset>
          <legend>Delivery</legend>
          <div className="grid">
            <Field label="Priority" hint="High travels on the priority lane at every hop." error={err('priority')}>
              {(ids) => (
                <select {...ids} name="priority" value={form.priority} onChange={(e) => set('priority', e.target.value as EventForm['priority'])}>
                  <option value="normal">normal</option>
                  <option value="high">high</option>
                </select>
              )}
            </Field>
            <Field label="Publish at" hint="Scheduled publishing: nothing is delivered before. Empty: now." error={err('publish_at')}>
              {(ids) => <input {...ids} {...text('publish_at')} name="publish_at" type="datetime-local" />}
            </Field>
            <Field label="Invitations expire at" hint="Deliveries not made by then are not made." error={err('expires_at')}>
              {(ids) => <input {...ids} {...text('expires_at')} name="expires_at" type="datetime-local" />}
            </Field>
            {!original && (
              <Field label="Event id (optional)" hint="Your own id makes a retry safe; generated when empty." error={err('id')}>
                {(ids) => <input {...ids} {...text('id')} name="id" autoComplete="off" />}
              </Field>
            )}
          </div>
        </fieldset>

        {errors.form && (
          <p className="error" id="form-error" role="alert">
            {errors.form}
          </p>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {original ? 'Save changes' : 'Create event'}
          </button>
          <Link className="button" href={original ? `/events/${encodeURIComponent(original.view.id)}` : '/'}>
            Back
          </Link>
          <span className="muted" aria-live="polite">
            {busy ? 'Sending…' : ''}
          </span>
        </div>
      </form>
    </section>
  );
}
