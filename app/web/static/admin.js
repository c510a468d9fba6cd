// The admin person form: show only the fields of the channel kind chosen (all of them without script).
(function () {
  var select = document.getElementById("channel_kind");
  if (!select) return;
  function show() {
    document.querySelectorAll("#channels .kind").forEach(function (el) {
      el.hidden = el.getAttribute("data-kind") !== select.value;
    });
  }
  select.addEventListener("change", show);
  show();
})();
