// Claim pages. Loaded as a file: the CSP allows no inline script.
(() => {
  // Partials that carry validation errors answer 400; htmx leaves 4xx unswapped by default, so let it
  // put the form with its messages in place (the server only answers 400 with a partial of the target).
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Anything else that fails (a lost connection, a 404 or 500) is said rather than silently ignored.
  document.addEventListener("htmx:responseError", (event) => {
    showProblem(event.detail.elt);
  });
  document.addEventListener("htmx:sendError", (event) => {
    showProblem(event.detail.elt);
  });

  function showProblem(element) {
    const template = document.getElementById("htmx-problem");
    if (!template || !element) return;
    const container = element.closest("[data-problem-host]") || document.querySelector("main");
    const old = container.querySelector(".htmx-problem");
    if (old) old.remove();
    const note = template.content.firstElementChild.cloneNode(true);
    note.classList.add("htmx-problem");
    container.prepend(note);
  }

  // The print view's button.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
})();
