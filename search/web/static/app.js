// reprowatch web UI: copy buttons, select-all, and the review queue's one-key decisions.
// Served by us (CSP script-src 'self'); no inline scripts, no other origin.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.getAttribute("data-copy")).textContent;
      var done = function () { button.textContent = "已复制"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else { fallbackCopy(text); done(); }
    });
  });

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the URL stays selectable by hand */ }
    document.body.removeChild(area);
  }

  document.querySelectorAll("input.select-all").forEach(function (box) {
    box.addEventListener("change", function () {
      box.form.querySelectorAll("input[name=ids]").forEach(function (b) { b.checked = box.checked; });
    });
  });

  // -- review queue -------------------------------------------------------------------
  var cards = Array.prototype.slice.call(document.querySelectorAll("li.qcard"));
  if (!cards.length) { return; }
  var current = 0;

  function focusCard(i) {
    if (i < 0 || i >= cards.length) { return; }
    cards.forEach(function (c) { c.classList.remove("current"); });
    current = i;
    cards[i].classList.add("current");
    cards[i].focus({ preventScroll: true });
    cards[i].scrollIntoView({ block: "nearest" });
  }

  function nextOpen(from) {
    for (var i = from + 1; i < cards.length; i++) {
      if (!cards[i].classList.contains("done")) { return i; }
    }
    return from;
  }

  function decide(card, status) {
    var result = card.querySelector(".result");
    if (!status) {  // skip: leave it for later
      result.textContent = "已跳过";
      focusCard(nextOpen(cards.indexOf(card)));
      return;
    }
    var note = status === "dismissed" ? card.querySelector(".dnote").value.trim() : "";
    if (status === "dismissed" && !note) {
      result.textContent = "排除必须填写理由";
      card.querySelector(".dnote").focus();
      return;
    }
    result.textContent = "提交中…";
    fetch("/api/items/" + encodeURIComponent(card.getAttribute("data-id")) + "/review", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ status: status, note: note })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (answer) {
      if (answer.ok) {
        card.classList.add("done", "d-" + status);
        result.textContent = status === "confirmed" ? "已确认违法" : "已排除";
        card.querySelectorAll("button.act, input.dnote").forEach(function (el) { el.disabled = true; });
        focusCard(nextOpen(cards.indexOf(card)));
      } else {
        var d = answer.body.detail;
        result.textContent = "未能提交：" + (typeof d === "string" ? d : (d && d[0] && d[0].msg) || "错误");
      }
    }, function () { result.textContent = "网络错误，未提交"; });
  }

  cards.forEach(function (card, i) {
    card.addEventListener("click", function (e) { if (e.target === card) { focusCard(i); } });
    card.querySelectorAll("button.act").forEach(function (b) {
      b.addEventListener("click", function () { focusCard(i); decide(card, b.getAttribute("data-status")); });
    });
    var note = card.querySelector(".dnote");
    if (note) {
      note.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); decide(card, "dismissed"); }
        if (e.key === "Escape") { note.blur(); }
      });
    }
  });

  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var card = cards[current];
    if (e.key === "j") { focusCard(current + 1); }
    else if (e.key === "k") { focusCard(current - 1); }
    else if (e.key === "c") { decide(card, "confirmed"); }
    else if (e.key === "d") { e.preventDefault(); card.querySelector(".dnote").focus(); }
    else if (e.key === "s") { decide(card, ""); }
    else if (e.key === "x") { var b = card.querySelector("input[name=ids]"); if (b) { b.checked = !b.checked; } }
    else { return; }
    e.preventDefault();
  });
  focusCard(0);
})();
