// Municipality pickers: a <select data-picker> becomes a searchable Tom Select (vendored under
// static/vendor/tom-select), grouped by region as the select's <optgroup>s are. The original select
// stays in the form and is what gets submitted, so without JavaScript it works as a plain select.
(function () {
  "use strict";
  if (typeof window.TomSelect === "undefined") { return; }
  document.querySelectorAll("select[data-picker]").forEach(function (select) {
    var noResults = select.getAttribute("data-no-results") || "";
    // Tom Select moves chosen options out of their <optgroup>: remember each one's group (region).
    Array.prototype.forEach.call(select.querySelectorAll("optgroup > option"), function (option) {
      option.setAttribute("data-group", option.parentNode.label);
    });
    var picker = new window.TomSelect(select, {
      plugins: select.multiple ? ["remove_button"] : [],
      maxOptions: null,          // all 98, never a silently shortened list
      lockOptgroupOrder: true,   // regions in the server's order (the user's own first)
      closeAfterSelect: !select.multiple,
      render: {
        no_results: function () {
          var div = document.createElement("div");
          div.className = "no-results";
          div.textContent = noResults;
          return div;
        }
      }
    });
    // Tom Select points the <label> at its search box; the original select (still read by
    // assistive technology, though hidden) keeps its name through the same label.
    var labelledBy = picker.control_input.getAttribute("aria-labelledby");
    if (labelledBy) { select.setAttribute("aria-labelledby", labelledBy); }
  });
})();
