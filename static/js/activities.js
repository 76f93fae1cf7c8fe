// Activity form: show a type's own fields (a course's sessions, a material's link) only for that type.
// Without JavaScript every field stays visible and the server validates them.
(function () {
  "use strict";
  var form = document.querySelector("form.activity-form");
  if (!form) { return; }
  var typeSelect = form.querySelector("select[name=type]");
  var blocks = form.querySelectorAll("[data-types]");
  function update() {
    blocks.forEach(function (block) {
      var types = block.getAttribute("data-types").split(" ");
      var input = block.querySelector("input");
      var relevant = types.indexOf(typeSelect.value) !== -1;
      // Keep a field visible if it holds a value or an error, so nothing is hidden from the user.
      var keep = relevant || (input && input.value) || block.querySelector(".invalid-feedback");
      block.hidden = !keep;
    });
  }
  typeSelect.addEventListener("change", update);
  update();
})();
