// Staff inbox: keep waiting times current without reloading, and stop double submissions on slow phones.
(function () {
  function waited(since) {
    var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 60000));
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h " + (minutes % 60) + " min";
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }
  function refresh() {
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = "waiting " + waited(el.getAttribute("data-since"));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    setInterval(refresh, 30000);
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      });
    });
  });
})();
