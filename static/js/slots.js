// The queue-slot grid (templates/slots/_grid.html). It works without this file; with it the
// grid opens at 07:00 rather than midnight, and a click's htmx swap keeps where you scrolled.
(function () {
  let kept = null;
  function box() { return document.querySelector("#slot-grid .slot-grid-scroll"); }
  document.addEventListener("htmx:beforeSwap", function (event) {
    const current = box();
    if (current && event.detail.target && event.detail.target.id === "slot-grid") {
      kept = [current.scrollTop, current.scrollLeft];
    }
  });
  function place() {
    const current = box();
    if (!current) return;
    if (kept) {
      current.scrollTop = kept[0];
      current.scrollLeft = kept[1];
      kept = null;
      return;
    }
    const morning = current.querySelector("tr[data-hour='7']");
    const head = current.querySelector("thead");
    if (morning && current.scrollTop === 0) {
      current.scrollTop = morning.offsetTop - (head ? head.offsetHeight : 0);
    }
  }
  document.addEventListener("DOMContentLoaded", place);
  document.addEventListener("htmx:afterSwap", place);
})();
