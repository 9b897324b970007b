// Live refresh of a running run: fetch the page's live fragment every two seconds and
// swap it in, until the run closes. Everything else on the pages is plain HTML.
(function () {
  const live = document.getElementById("live");
  if (!live || live.dataset.running !== "yes") return;
  const url = live.dataset.fragment;
  async function refresh() {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) {
        live.innerHTML = await response.text();
        if (!live.querySelector('[id="run-status"]') ||
            live.querySelector("#run-status").textContent.trim() !== "Running") {
          live.dataset.running = "no";
          const actions = document.getElementById("actions");
          if (actions) actions.remove();
          return;
        }
      }
    } catch (e) { /* the next tick tries again */ }
    setTimeout(refresh, 2000);
  }
  setTimeout(refresh, 2000);
})();
