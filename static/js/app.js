// Small progressive enhancements; every feature works without this file.
document.addEventListener("htmx:responseError", function (event) {
  // A response htmx could not place (network error page, proxy error): say so plainly.
  const flash = document.getElementById("flash");
  if (flash && !event.detail.xhr.getResponseHeader("HX-Retarget")) {
    flash.innerHTML = '<div class="alert alert-error" role="alert">The server answered with an error (' +
      event.detail.xhr.status + '). Nothing was changed; try again.</div>';
  }
});
document.addEventListener("htmx:sendError", function () {
  const flash = document.getElementById("flash");
  if (flash) flash.innerHTML = '<div class="alert alert-error" role="alert">Poise cannot be reached. Check your connection and try again.</div>';
});

// Tell the server the viewer's time zone, so the calendar can label times in it too.
(function () {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && !document.cookie.includes("viewer_tz=" + encodeURIComponent(zone))) {
      document.cookie = "viewer_tz=" + encodeURIComponent(zone) + "; path=/; SameSite=Lax; max-age=31536000";
    }
  } catch (e) { /* an old browser: workspace time only */ }
})();

// Drag a calendar card to another day: POST .../move with the day, then refresh the grid.
document.addEventListener("dragstart", function (event) {
  const card = event.target.closest && event.target.closest(".card-pub[draggable=true]");
  if (!card) return;
  event.dataTransfer.setData("text/plain", card.dataset.post + ":" + card.dataset.version);
  event.dataTransfer.effectAllowed = "move";
});
document.addEventListener("dragover", function (event) {
  const day = event.target.closest && event.target.closest(".day[data-date]");
  if (day) { event.preventDefault(); day.classList.add("drop-target"); }
});
document.addEventListener("dragleave", function (event) {
  const day = event.target.closest && event.target.closest(".day[data-date]");
  if (day) day.classList.remove("drop-target");
});
document.addEventListener("drop", function (event) {
  const day = event.target.closest && event.target.closest(".day[data-date]");
  const cal = document.getElementById("calendar");
  if (!day || !cal) return;
  event.preventDefault();
  day.classList.remove("drop-target");
  const [postId, version] = event.dataTransfer.getData("text/plain").split(":");
  if (!postId) return;
  htmx.ajax("POST", "/w/" + cal.dataset.slug + "/posts/" + postId + "/move", {
    values: { date: day.dataset.date, version: version, return_to: "calendar" },
    headers: { "X-CSRF-Token": cal.dataset.csrf },
    swap: "none",
  });
});

// Value tags: highlight the suggestion, apply it in one click, remember where tags came from.
document.addEventListener("click", function (event) {
  const button = event.target.closest && event.target.closest("[data-apply-tags]");
  if (!button) return;
  const wanted = button.dataset.applyTags.split(",");
  document.querySelectorAll("#composer input[name=tags]").forEach(function (box) {
    box.checked = wanted.includes(box.value);
  });
  const source = document.querySelector("#composer input[name=tag_source]");
  if (source) source.value = "suggested";
  htmx.trigger(document.getElementById("composer"), "change");
});
document.addEventListener("change", function (event) {
  if (event.target.name === "tags" && event.isTrusted) {
    const source = document.querySelector("#composer input[name=tag_source]");
    if (source) source.value = "manual";
  }
});
document.addEventListener("htmx:afterSwap", function (event) {
  const hints = event.target.querySelector && event.target.querySelector("[data-suggested]");
  if (!hints) return;
  const suggested = hints.dataset.suggested.split(",");
  document.querySelectorAll("#composer .chip-check").forEach(function (chip) {
    const box = chip.querySelector("input[name=tags]");
    chip.classList.toggle("suggested", !!box && suggested.includes(box.value));
  });
});

// A "Cancel" inside the flash area (the move panel) just closes it.
document.addEventListener("click", function (event) {
  const link = event.target.closest && event.target.closest("[data-dismiss-flash]");
  const flash = document.getElementById("flash");
  if (!link || !flash || !flash.contains(link)) return;
  event.preventDefault();
  flash.innerHTML = "";
});

// The composer's image: show a newly chosen file in every account preview before it is
// uploaded (the server shows saved and kept images itself).
(function () {
  let localUrl = "";
  function showLocalImage() {
    document.querySelectorAll("#previews img.preview-image.local-only").forEach(function (img) {
      if (localUrl) { img.src = localUrl; img.hidden = false; img.alt = "The image you chose"; }
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.name !== "media" || !event.target.files) return;
    if (localUrl) URL.revokeObjectURL(localUrl);
    const file = event.target.files[0];
    localUrl = file ? URL.createObjectURL(file) : "";
    document.querySelectorAll("#previews img.preview-image").forEach(function (img) {
      img.classList.add("local-only");
    });
    showLocalImage();
  });
  document.addEventListener("htmx:afterSwap", showLocalImage);
})();

// Behaviour that used to sit in inline handlers: the Content-Security-Policy forbids those.
document.addEventListener("change", function (event) {
  const select = event.target.closest && event.target.closest("select[data-workspace-switch]");
  if (select && select.value) location.href = "/w/" + encodeURIComponent(select.value);
});
document.addEventListener("submit", function (event) {
  const form = event.target.closest && event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// Issue 14: a preview's "see more" fold opens the rest of the text, as the network does.
document.addEventListener("click", function (event) {
  const button = event.target.closest && event.target.closest("button[data-fold]");
  if (!button) return;
  const tail = button.parentElement.querySelector(".feed-tail");
  const dots = button.parentElement.querySelector(".feed-ellipsis");
  if (!tail) return;
  tail.hidden = false;
  if (dots) dots.hidden = true;
  button.hidden = true;
  button.setAttribute("aria-expanded", "true");
});
