// Small behaviours shared by every page. Loaded as a file: the CSP allows no inline script.
document.addEventListener("DOMContentLoaded", () => {
  // Forms that ask for confirmation carry data-confirm="question".
  document.body.addEventListener("submit", (event) => {
    const question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
});
