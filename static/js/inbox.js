// Approver pages: ticking rows for bulk approval, the claim preview, and HTMX error answers.
// Loaded as a file: the CSP allows no inline script.
(() => {
  // A page body swapped in by htmx brings this script again: listen once.
  if (window.baoxiaoApprovals) return;
  window.baoxiaoApprovals = true;

  // The task page answers a refused action with the actions panel and 400 (what to correct), or with
  // the whole page and 409 (someone decided first); htmx leaves 4xx unswapped by default, so let it
  // show those answers, which the server only sends for the actions' own forms.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if ((status === 400 || status === 409) && source && source.closest("#task-actions")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function picks() {
    return Array.from(document.querySelectorAll("input[data-pick]"));
  }

  function refreshSelection() {
    const all = picks();
    const ticked = all.filter((box) => box.checked).length;
    const button = document.querySelector("[data-bulk-submit]");
    if (button) {
      button.disabled = ticked === 0;
      const count = button.querySelector("[data-selected-count]");
      if (count) count.textContent = ticked ? String(ticked) : "";
    }
    const selectAll = document.querySelector("[data-select-all]");
    if (selectAll) {
      selectAll.checked = all.length > 0 && ticked === all.length;
      selectAll.indeterminate = ticked > 0 && ticked < all.length;
    }
    all.forEach((box) => box.closest(".task-row")?.classList.toggle("task-row-picked", box.checked));
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-select-all]")) {
      picks().forEach((box) => {
        box.checked = target.checked;
      });
    }
    if (target.matches("[data-select-all], input[data-pick]")) refreshSelection();
  });

  // The row being previewed is marked, so the side panel's claim is easy to find in the list.
  document.addEventListener("htmx:afterSwap", (event) => {
    const trigger = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!trigger || !trigger.matches("[data-preview-button]")) return;
    document.querySelectorAll(".task-row-previewed").forEach((row) => row.classList.remove("task-row-previewed"));
    trigger.closest(".task-row")?.classList.add("task-row-previewed");
  });

  document.addEventListener("click", (event) => {
    const close = event.target.closest("[data-preview-close]");
    if (!close) return;
    const holder = close.closest(".task-preview-inline");
    if (holder) {
      holder.replaceChildren();
      holder.closest(".task-row")?.classList.remove("task-row-previewed");
    }
  });

  document.addEventListener("DOMContentLoaded", refreshSelection);
})();
