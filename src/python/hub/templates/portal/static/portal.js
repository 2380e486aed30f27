/* Monitoring Hub portal: search, filter and sort on the index; copy buttons and the site's
   address on exporter pages. No dependency, no request: the index data is inlined in a
   <script type="application/json"> block, so everything also works from file://.
   State lives in the URL hash (#q=...&category=...&sort=updated), so a view can be shared.
   window.hubPortal exposes timings for tests and benchmarks. */
(function () {
  "use strict";
  var doc = document;
  var root = doc.documentElement;
  root.className = root.className.replace(/\bno-js\b/, "js");
  var hub = (window.hubPortal = { filterTimings: [], paintTimings: [], lastFilterMs: 0, ready: false });

  function byId(id) { return doc.getElementById(id); }

  function announce(text) {
    var region = byId("announce");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 30);
  }

  /* ---------- the site's address in install commands ---------- */

  function siteBase() {
    var body = doc.body;
    if (!body.getAttribute("data-placeholder")) return null;
    if (location.protocol !== "http:" && location.protocol !== "https:") return null;
    var href = new URL(body.getAttribute("data-root") || "./", location.href).href;
    return href.split("#")[0].split("?")[0].replace(/\/+$/, "");
  }

  // What Python's shlex.quote leaves unquoted: the commands were made with it, and a quoted
  // placeholder ('https://<your-host>/<path>/x.repo') must become what shlex.quote would have
  // made of the real address.
  var SHELL_SAFE = /^[A-Za-z0-9_@%+=:,.\/-]+$/;

  function substitute(text, placeholder, base) {
    text = text.replace(/'([^'\n]*)'/g, function (quoted, inner) {
      if (inner.indexOf(placeholder) === -1) return quoted;
      var value = inner.split(placeholder).join(base);
      return SHELL_SAFE.test(value) ? value : "'" + value + "'";
    });
    return text.split(placeholder).join(base);
  }

  function applyBase() {
    var base = siteBase();
    if (!base) return;
    if (base.indexOf("'") !== -1) base = base.split("'").join("%27");
    var placeholder = doc.body.getAttribute("data-placeholder");
    var blocks = doc.querySelectorAll("pre.copyable code");
    for (var i = 0; i < blocks.length; i++) {
      var text = blocks[i].textContent;
      if (text.indexOf(placeholder) !== -1) blocks[i].textContent = substitute(text, placeholder, base);
    }
    var note = byId("base-note");
    if (note) {
      note.textContent = "The commands below use this site's address, " + base + "/.";
      note.className = "muted";
    }
  }

  /* ---------- copy buttons ---------- */

  function legacyCopy(text) {
    var area = doc.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    area.style.opacity = "0";
    doc.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = doc.execCommand("copy"); } catch (e) { ok = false; }
    doc.body.removeChild(area);
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () { return true; },
        function () { return legacyCopy(text); }
      );
    }
    return Promise.resolve(legacyCopy(text));
  }

  function selectContents(node) {
    var range = doc.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function onCopy(button) {
    var pre = byId(button.getAttribute("data-copy-target"));
    if (!pre) return;
    var text = pre.textContent;
    button.setAttribute("data-copied", text);
    copyText(text).then(function (ok) {
      button.setAttribute("data-state", ok ? "copied" : "failed");
      button.textContent = ok ? "Copied" : "Selected";
      if (!ok) selectContents(pre);
      announce(ok ? "Copied to the clipboard" : "Could not copy: the text is selected, press Ctrl+C");
      button.focus();
      window.setTimeout(function () {
        button.textContent = "Copy";
        button.removeAttribute("data-state");
      }, 2500);
    });
  }

  doc.addEventListener("click", function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest("button.copy") : null;
    if (button) onCopy(button);
  });

  function openFromHash() {
    var id = location.hash.slice(1);
    if (!id || id.indexOf("=") !== -1) return;
    var el = byId(id);
    if (el && el.tagName === "DETAILS") el.open = true;
  }

  /* ---------- index: search, category, sort ---------- */

  function initIndex(entries) {
    var q = byId("q"), category = byId("category"), sort = byId("sort");
    var list = byId("results"), count = byId("count"), empty = byId("empty"), reset = byId("reset");
    var total = entries.length;
    var items = [];
    for (var i = 0; i < entries.length; i++) {
      var e = entries[i];
      items.push({
        e: e,
        el: byId("card-" + e.name),
        hay: (e.name + " " + e.name.replace(/_/g, " ") + " " + e.description + " " + e.category).toLowerCase()
      });
    }
    var sortedBy = "name";
    var order = items.slice(); // every card, in the current sort order (the page has them by name)
    for (var j = 0; j < items.length; j++) items[j].attached = true;
    var PAGE = 120;
    var limit = PAGE;
    var more = byId("more"), moreButton = byId("more-button");
    var stateTimer = 0;

    function compare(a, b) {
      if (sort.value === "updated" && a.e.updated !== b.e.updated) return a.e.updated < b.e.updated ? 1 : -1;
      return a.e.name < b.e.name ? -1 : a.e.name > b.e.name ? 1 : 0;
    }

    function matches(it, terms, cat) {
      if (cat && it.e.category !== cat) return false;
      for (var t = 0; t < terms.length; t++) if (it.hay.indexOf(terms[t]) === -1) return false;
      return true;
    }

    // The list holds only the matching cards, in order, and at most `limit` of them ("Show
    // more" adds a page): detaching cards is much cheaper for the browser than hiding them, and
    // a bounded list keeps every keystroke cheap with 1,000 exporters (docs/portal.md). Only
    // the cards whose state changes are touched.
    function filter(keepLimit) {
      var t0 = performance.now();
      if (!keepLimit) limit = PAGE;
      if (sort.value !== sortedBy) {
        order = items.slice().sort(compare);
        sortedBy = sort.value;
        var all = doc.createDocumentFragment();
        for (var a = 0; a < order.length; a++) if (order[a].attached) all.appendChild(order[a].el);
        list.appendChild(all); // the attached cards, re-ordered
      }
      var terms = q.value.toLowerCase().split(/\s+/).filter(Boolean);
      var cat = category.value;
      var matched = 0, shown = 0, previous = null;
      for (var k = 0; k < order.length; k++) {
        var it = order[k];
        var ok = matches(it, terms, cat);
        if (ok) matched++;
        ok = ok && matched <= limit;
        if (ok) {
          if (!it.attached) {
            list.insertBefore(it.el, previous ? previous.nextSibling : list.firstChild);
            it.attached = true;
          }
          previous = it.el;
          shown++;
        } else if (it.attached) {
          list.removeChild(it.el);
          it.attached = false;
        }
      }
      count.textContent = matched === total ? total + " exporters" : matched + " of " + total + " exporters match";
      more.hidden = matched <= shown;
      moreButton.textContent = "Show " + Math.min(PAGE, matched - shown) + " more (" + (matched - shown) + " not shown)";
      empty.hidden = matched !== 0;
      var dt = performance.now() - t0;
      hub.lastFilterMs = dt;
      hub.filterTimings.push(dt);
      hub.matched = matched;
      return matched;
    }
    hub.filter = filter;

    function stateFromHash() {
      var params = new URLSearchParams(location.hash.slice(1));
      q.value = params.get("q") || "";
      var cat = params.get("category") || "";
      category.value = cat;
      if (category.value !== cat) category.value = "";
      sort.value = params.get("sort") === "updated" ? "updated" : "name";
    }

    function writeState() {
      var params = new URLSearchParams();
      if (q.value) params.set("q", q.value);
      if (category.value) params.set("category", category.value);
      if (sort.value !== "name") params.set("sort", sort.value);
      var hash = params.toString();
      if (location.hash.slice(1) === hash) return;
      var url = location.href.split("#")[0] + (hash ? "#" + hash : "");
      try {
        history.replaceState(null, "", url);
      } catch (err) {
        location.replace("#" + hash);
      }
    }

    function update(immediateState) {
      var start = performance.now();
      filter();
      window.requestAnimationFrame(function () {
        window.setTimeout(function () { hub.paintTimings.push(performance.now() - start); }, 0);
      });
      window.clearTimeout(stateTimer);
      if (immediateState) writeState();
      else stateTimer = window.setTimeout(writeState, 250);
    }

    q.addEventListener("input", function () { update(false); });
    category.addEventListener("change", function () { update(true); });
    sort.addEventListener("change", function () { update(true); });
    byId("controls").addEventListener("submit", function (event) { event.preventDefault(); writeState(); });
    q.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && q.value) {
        q.value = "";
        update(true);
      }
    });
    moreButton.addEventListener("click", function () {
      var first = hub.matched > limit ? limit : -1;
      limit += PAGE;
      filter(true);
      // Keyboard users continue where the new cards start.
      var next = first >= 0 ? list.children[first] : null;
      if (next) next.querySelector("a").focus();
    });
    reset.addEventListener("click", function () {
      q.value = "";
      category.value = "";
      update(true);
      q.focus();
    });
    doc.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
      var tag = (event.target && event.target.tagName) || "";
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
      event.preventDefault();
      q.focus();
      q.select();
    });
    window.addEventListener("hashchange", function () {
      stateFromHash();
      filter();
    });

    stateFromHash();
    filter();
  }

  function init() {
    applyBase();
    openFromHash();
    window.addEventListener("hashchange", openFromHash);
    var data = byId("exporters-data");
    if (data) initIndex(JSON.parse(data.textContent));
    hub.ready = true;
  }

  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", init);
  else init();
})();
