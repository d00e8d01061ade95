/// The dashboard's stylesheet and script, served from the server itself: no CDN, no build
/// step (fleets often run without internet). The script only sorts, filters and refreshes;
/// every page works without it.
enum DashboardAssets {
    static let css = """
        :root { --ok: #1b7f3b; --warn: #a86b00; --bad: #b3261e; --muted: #5f6368; --line: #dadce0; --bg: #f8f9fa; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #202124; background: #fff; }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .6rem 1rem; background: #0b3d5c; color: #fff; }
        header a { color: #fff; text-decoration: none; }
        header .brand { font-weight: 700; }
        header nav { display: flex; gap: .8rem; flex-wrap: wrap; }
        header nav a[aria-current] { text-decoration: underline; }
        header .sign-out { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
        main { padding: 1rem; max-width: 1100px; margin: 0 auto; }
        h1 { font-size: 1.4rem; margin: .2rem 0 .8rem; }
        h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
        .counts { display: flex; flex-wrap: wrap; gap: .6rem; list-style: none; padding: 0; margin: 0 0 1rem; }
        .counts li { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .8rem; background: var(--bg); }
        .counts .n { font-size: 1.4rem; font-weight: 700; margin-right: .3rem; }
        .filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: center; margin-bottom: .6rem; }
        .asof, .note, .crumbs { color: var(--muted); font-size: .9rem; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th[data-key] { cursor: pointer; user-select: none; white-space: nowrap; }
        th[aria-sort="ascending"]::after { content: " ▲"; }
        th[aria-sort="descending"]::after { content: " ▼"; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .badge { display: inline-block; padding: .05rem .45rem; border-radius: 9px; font-size: .85rem; color: #fff; background: var(--muted); }
        .badge.online, .badge.healthy, .badge.ok, .badge.sent, .badge.completed { background: var(--ok); }
        .badge.degraded, .badge.available, .badge.running, .badge.retryable { background: var(--warn); }
        .badge.offline, .badge.unhealthy, .badge.dead, .badge.failing { background: var(--bad); }
        .reason { color: var(--muted); font-size: .85rem; }
        .problem { color: var(--bad); font-weight: 600; }
        .sign-in { max-width: 24rem; margin: 2rem auto; }
        .sign-in input[type=password] { display: block; width: 100%; padding: .5rem; margin: .3rem 0 .8rem; font-size: 1rem; }
        button { font: inherit; padding: .3rem .8rem; border-radius: 4px; border: 1px solid #888; background: #fff; cursor: pointer; }
        .ranges { display: flex; gap: .8rem; flex-wrap: wrap; margin: .6rem 0; }
        .ranges a[aria-current] { font-weight: 700; text-decoration: none; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg.chart .plot { fill: var(--bg); stroke: var(--line); }
        svg.chart .band { fill: #8ab4f8; fill-opacity: .45; stroke: none; }
        svg.chart .mean { fill: none; stroke: #1a73e8; stroke-width: 1.5; }
        svg.chart circle.mean { fill: #1a73e8; }
        svg.chart .threshold { stroke: var(--bad); stroke-dasharray: 6 4; stroke-width: 1.2; }
        svg.chart .threshold.warning { stroke: var(--warn); }
        svg.chart text { font-size: 11px; fill: var(--muted); }
        svg.chart .threshold-label { fill: var(--bad); }
        @media (max-width: 600px) { main { padding: .6rem; } th, td { padding: .3rem; font-size: .9rem; } }
        """

    static let js = """
        "use strict";
        (function () {
          function rows(table) { return Array.prototype.slice.call(table.tBodies[0].rows).filter(function (r) { return r.dataset.name !== undefined; }); }
          function applyFilter(root) {
            var input = root.querySelector("#filter"), state = root.querySelector("#state-filter");
            var table = root.querySelector("table.devices");
            if (!table) { return; }
            var text = input ? input.value.trim().toLowerCase() : "", wanted = state ? state.value : "";
            rows(table).forEach(function (row) {
              var match = (!text || row.textContent.toLowerCase().indexOf(text) >= 0) && (!wanted || row.dataset.state === wanted);
              row.hidden = !match;
            });
          }
          var sortKey = null, sortType = "text", sortDir = 1;
          function applySort(root) {
            var table = root.querySelector("table.sortable");
            if (!table || !sortKey) { return; }
            var list = rows(table);
            list.sort(function (a, b) {
              var x = a.dataset[sortKey] || "", y = b.dataset[sortKey] || "";
              if (sortType === "number") { return (parseFloat(x || "-1e308") - parseFloat(y || "-1e308")) * sortDir; }
              return x.localeCompare(y) * sortDir;
            });
            list.forEach(function (row) { table.tBodies[0].appendChild(row); });
            table.querySelectorAll("th[data-key]").forEach(function (th) {
              if (th.dataset.key === sortKey) { th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending"); } else { th.removeAttribute("aria-sort"); }
            });
          }
          function wire(root) {
            root.querySelectorAll("th[data-key]").forEach(function (th) {
              th.addEventListener("click", function () {
                if (sortKey === th.dataset.key) { sortDir = -sortDir; } else { sortKey = th.dataset.key; sortType = th.dataset.type; sortDir = 1; }
                applySort(root);
              });
            });
            var input = root.querySelector("#filter"), state = root.querySelector("#state-filter");
            if (input) { input.addEventListener("input", function () { applyFilter(root); }); }
            if (state) { state.addEventListener("change", function () { applyFilter(root); }); }
          }
          function refresh(box) {
            var every = parseInt(box.dataset.every || "30", 10) * 1000;
            setInterval(function () {
              var input = box.querySelector("#filter"), state = box.querySelector("#state-filter");
              var kept = { text: input ? input.value : "", state: state ? state.value : "" };
              fetch(box.dataset.refresh, { credentials: "same-origin", redirect: "manual", headers: { "Accept": "text/html" } })
                .then(function (response) {
                  if (response.type === "opaqueredirect" || response.status !== 200) { window.location.reload(); return null; }
                  return response.text();
                })
                .then(function (html) {
                  if (html === null) { return; }
                  box.innerHTML = html;
                  var i = box.querySelector("#filter"), s = box.querySelector("#state-filter");
                  if (i) { i.value = kept.text; }
                  if (s) { s.value = kept.state; }
                  wire(box); applyFilter(box); applySort(box);
                })
                .catch(function () { /* the next tick tries again */ });
            }, every);
          }
          document.addEventListener("DOMContentLoaded", function () {
            wire(document);
            document.querySelectorAll("[data-refresh]").forEach(refresh);
          });
        })();
        """
}
