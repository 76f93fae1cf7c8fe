// Fidelity pages (no inline scripts: CSP). Progressive enhancement only; everything works without.

// Printable form: a button that opens the print dialog (hidden without JavaScript).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
});

// Review form: show the running total and band while scoring (the server computes the stored one).
(function () {
  const form = document.getElementById("review-form");
  const output = document.getElementById("live-total");
  if (!form || !output) {
    return;
  }
  const bands = JSON.parse(output.dataset.bands || "[]");
  const weights = JSON.parse(output.dataset.weights || "{}");
  const groups = new Set(Array.from(form.querySelectorAll("input[type=radio][name^=score_]")).map(function (r) {
    return r.name;
  }));

  function update() {
    let total = 0;
    let missing = 0;
    groups.forEach(function (name) {
      const checked = form.querySelector("input[name='" + name + "']:checked");
      const value = checked ? parseInt(checked.value, 10) : NaN;
      if (isNaN(value)) {
        missing += 1;
      } else {
        total += value * (weights[name] || 1);
      }
    });
    if (missing) {
      output.textContent = output.dataset.draftText.replace("{n}", missing);
    } else {
      const band = bands.find(function (b) { return b.min <= total && total <= b.max; });
      output.textContent = output.dataset.totalText.replace("{total}", total).replace("{band}", band ? band.label : "");
    }
    output.hidden = false;
  }

  form.addEventListener("change", update);
  update();
})();
