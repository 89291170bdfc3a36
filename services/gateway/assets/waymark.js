// Progressive enhancement only: every form works without it.
// Focuses the error summary after a refused form, so screen readers announce it.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
});
// "Print or save as PDF" buttons (no inline handlers: the CSP forbids them).
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
});
