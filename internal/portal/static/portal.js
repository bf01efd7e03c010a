// Blue Webhooks portal: the little the pages need a script for. Everything
// works without it except copying with one click and checking a filter as
// it is typed (the form checks it on save either way).
"use strict";

(function () {
  // Copy buttons: data-copy names the element whose text is copied.
  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!target) return;
    var text = target.textContent;
    var done = function (ok) {
      var label = button.textContent;
      button.textContent = ok ? "Copied" : "Copy failed";
      if (status) status.textContent = ok ? "Copied to the clipboard." : "Could not copy: select the text and copy it.";
      setTimeout(function () { button.textContent = label === "Copied" || label === "Copy failed" ? "Copy" : label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(target);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done(ok);
  }

  // A filter is checked with the API's own check shortly after typing stops.
  function watchFilter(area) {
    var url = area.getAttribute("data-filter-check");
    var out = document.getElementById(area.id + "-error");
    var timer = null;
    var seq = 0;
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(url + "?filter=" + encodeURIComponent(area.value), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (res) {
            if (mine !== seq) return;
            if (res.ok) {
              area.removeAttribute("aria-invalid");
              out.textContent = "";
            } else {
              area.setAttribute("aria-invalid", "true");
              out.textContent = res.message;
            }
          })
          .catch(function () {});
      }, 300);
    });
  }

  // A region with data-refresh (milliseconds) is fetched again and replaced
  // by the same region of the new page, until the page stops asking; not
  // while focus or a selection is inside it.
  function refresh(region) {
    var every = parseInt(region.getAttribute("data-refresh"), 10) || 2000;
    var tick = function () {
      if (document.hidden || region.contains(document.activeElement) || String(window.getSelection()).length > 0) {
        setTimeout(tick, every);
        return;
      }
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var next = doc.getElementById(region.id);
          if (!next) return;
          if (next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
          if (next.hasAttribute("data-refresh")) setTimeout(tick, every);
          else region.removeAttribute("data-refresh");
        })
        .catch(function () { setTimeout(tick, every * 2); });
    };
    setTimeout(tick, every);
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (b) copy(b);
  });
  document.querySelectorAll("[data-filter-check]").forEach(watchFilter);
  document.querySelectorAll("[data-refresh]").forEach(refresh);
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
