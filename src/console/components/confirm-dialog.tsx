import { useEffect, useId, useRef } from 'react';

/**
 * A modal question before an operation that cannot be taken back lightly: a sentence of what will
 * happen, "Confirm" and "Cancel". The native dialog traps focus and closes on Escape.
 */
export function ConfirmDialog(props: { title: string; sentence: string; onConfirm: () => void; onCancel: () => void; danger?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const textId = useId();
  const onCancel = useRef(props.onCancel);
  useEffect(() => { onCancel.current = props.onCancel; }, [props.onCancel]);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (!dialog.open) dialog.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      onCancel.current();
    };
    dialog.addEventListener('cancel', cancel);
    return () => {
      dialog.removeEventListener('cancel', cancel);
      if (dialog.open) dialog.close();
    };
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} aria-describedby={textId}>
      <h2 id={titleId}>{props.title}</h2>
      <p id={textId}>{props.sentence}</p>
      <div className="dialog-buttons">
        <button type="button" className="btn" onClick={props.onCancel} autoFocus>Cancel</button>
        <button type="button" className={`btn ${props.danger ? 'btn-danger' : 'btn-primary'}`} onClick={props.onConfirm}>Confirm</button>
      </div>
    </dialog>
  );
}
