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
// Activity form: a hint, before saving, when a chosen municipality lies outside the activity's
// region (the server asks again and requires "Gem alligevel"; this only says it sooner).
(function () {
  "use strict";
  var form = document.querySelector("form.activity-form");
  if (!form) { return; }
  var region = form.querySelector("select[name=region_code]");
  var municipalities = form.querySelector("select[name=municipality_codes]");
  if (!region || !municipalities) { return; }
  var text = municipalities.getAttribute("data-outside-text") || "";
  var hint = document.createElement("div");
  hint.className = "form-text text-warning-emphasis outside-region-hint";
  hint.setAttribute("aria-live", "polite");
  municipalities.parentNode.appendChild(hint);
  function update() {
    var option = region.options[region.selectedIndex];
    var regionName = region.value && option ? option.textContent : "";
    var outside = Array.prototype.filter.call(municipalities.options, function (o) {
      var group = o.getAttribute("data-group") || (o.parentNode.label || "");  // see pickers.js
      return o.selected && regionName && group && group !== regionName;
    }).map(function (o) { return o.textContent; });
    hint.textContent = outside.length
      ? "⚠ " + text.replace("%(names)s", outside.join(", ")).replace("%(region)s", regionName) : "";
  }
  region.addEventListener("change", update);
  municipalities.addEventListener("change", update);
})();
