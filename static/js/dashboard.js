/* Nationalt overblik: progressive enhancements only. Without JS the date field and the SVG link work.
 * - The timeline slider sets the as-of date field and submits the form.
 * - Hover/focus on a municipality shows its name, stage and date beside the map.
 * - "Hent PNG" draws the downloadable SVG onto a canvas and saves it as PNG (no network beyond this site).
 */
(function () {
  "use strict";

  function setUpSlider() {
    var box = document.getElementById("asof-slider-box");
    var form = document.getElementById("asof-form");
    if (!box || !form) { return; }
    var dates;
    try { dates = JSON.parse(box.getAttribute("data-dates") || "[]"); } catch (e) { return; }
    if (dates.length < 2) { return; }
    var slider = document.getElementById("asof-slider");
    var output = document.getElementById("asof-slider-value");
    var field = form.querySelector("input[name='on']");
    if (!slider || !field) { return; }
    box.hidden = false;
    slider.addEventListener("input", function () {
      output.textContent = dates[Number(slider.value)] || "";
    });
    slider.addEventListener("change", function () {
      field.value = dates[Number(slider.value)] || "";
      form.submit();
    });
  }

  function setUpMapInfo() {
    var map = document.getElementById("dk-map");
    var info = document.getElementById("map-info");
    if (!map || !info) { return; }
    var initial = info.textContent;
    function show(event) {
      var link = event.target.closest ? event.target.closest("a.dk-muni") : null;
      if (!link) { return; }
      var title = link.querySelector("title");
      if (title) {
        info.textContent = title.textContent;
        info.classList.add("active");
      }
    }
    function reset() {
      info.textContent = initial;
      info.classList.remove("active");
    }
    map.addEventListener("mouseover", show);
    map.addEventListener("focusin", show);
    map.addEventListener("mouseleave", reset);
    map.addEventListener("focusout", reset);
  }

  function setUpPng() {
    var button = document.getElementById("map-png");
    if (!button || !window.HTMLCanvasElement) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var image = new Image();
      image.onload = function () {
        var canvas = document.createElement("canvas");
        canvas.width = image.naturalWidth || 1100;
        canvas.height = image.naturalHeight || 1700;
        var context = canvas.getContext("2d");
        context.fillStyle = "#ffffff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        var link = document.createElement("a");
        link.download = button.getAttribute("data-filename") || "kort.png";
        link.href = canvas.toDataURL("image/png");
        document.body.appendChild(link);
        link.click();
        link.remove();
      };
      image.src = button.getAttribute("data-svg-url");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpSlider();
    setUpMapInfo();
    setUpPng();
  });
})();
