// "Copy" buttons: <button data-copy="ID"> copies the text of element ID to the clipboard and
// says so in [data-copy-status="ID"]. Without the clipboard API (a page on plain http), the
// text is selected for Ctrl-C instead.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const id = button.dataset.copy;
  const source = document.getElementById(id);
  const status = document.querySelector(`[data-copy-status="${id}"]`);
  const say = (text) => { if (status) status.textContent = text; };
  const select = () => {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    say("Selected: press Ctrl-C (⌘-C) to copy.");
  };
  if (!navigator.clipboard) { select(); return; }
  navigator.clipboard.writeText(source.textContent).then(() => say("Copied."), select);
});
