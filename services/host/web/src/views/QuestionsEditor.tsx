// The questions guests answer with their reply: add, edit, remove; the dietary preset in one click.
import { MAX_QUESTIONS, questionTypes } from '../../../../shared/schema/questions.ts';
import type { QuestionDraft } from '../lib/form.ts';
import { Field } from '../ui.tsx';

interface Props {
  questions: QuestionDraft[];
  error: string | undefined;
  onChange: (questions: QuestionDraft[]) => void;
  onAddDietary: () => void;
}

export function QuestionsEditor({ questions, error, onChange, onAddDietary }: Props) {
  const update = (i: number, patch: Partial<QuestionDraft>) => onChange(questions.map((q, j) => (j === i ? { ...q, ...patch } : q)));
  const hasDietary = questions.some((q) => q.id === 'dietary');
  return (
    <fieldset aria-describedby={error ? 'questions-error' : undefined}>
      <legend>Questions</legend>
      {questions.length === 0 && <p className="muted">No questions: guests reply yes, no or maybe.</p>}
      {questions.map((q, i) => (
        <div className="question" key={i} role="group" aria-label={`Question ${i + 1}`}>
          <div className="grid">
            <Field label={`Question ${i + 1} id`} hint="Key of the answers: letters, digits, _ or -.">
              {(ids) => <input {...ids} value={q.id} onChange={(e) => update(i, { id: e.target.value })} autoComplete="off" />}
            </Field>
            <Field label={`Question ${i + 1} text`} className="wide">
              {(ids) => <input {...ids} value={q.text} onChange={(e) => update(i, { text: e.target.value })} />}
            </Field>
            <Field label={`Question ${i + 1} type`}>
              {(ids) => (
                <select {...ids} value={q.type} onChange={(e) => update(i, { type: e.target.value as QuestionDraft['type'] })}>
                  {questionTypes.map((t) => (
                    <option key={t} value={t}>
                      {t}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {(q.type === 'single' || q.type === 'multiple') && (
              <Field label={`Question ${i + 1} options`} hint="One per line or comma-separated.">
                {(ids) => <textarea {...ids} rows={3} value={q.options} onChange={(e) => update(i, { options: e.target.value })} />}
              </Field>
            )}
            <div className="field check">
              <input id={`q-${i}-required`} type="checkbox" checked={q.required} onChange={(e) => update(i, { required: e.target.checked })} />
              <label htmlFor={`q-${i}-required`}>Question {i + 1} required</label>
            </div>
          </div>
          <button type="button" onClick={() => onChange(questions.filter((_, j) => j !== i))}>
            Remove question {i + 1}
          </button>
        </div>
      ))}
      <div className="actions">
        <button type="button" disabled={questions.length >= MAX_QUESTIONS} onClick={() => onChange([...questions, { id: '', text: '', type: 'text', options: '', required: false }])}>
          Add a question
        </button>
        <button type="button" disabled={hasDietary || questions.length >= MAX_QUESTIONS} onClick={onAddDietary}>
          Ask about dietary needs
        </button>
      </div>
      {error && (
        <p className="error" id="questions-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}
