// Drag and drop on the pipeline board. Progressive enhancement: every card also has a form that
// works without JavaScript; dropping a card posts that very form (same route, same server check,
// its own CSRF token) with the target column's stage, and moves the card only when the server
// agrees.
(function () {
  "use strict";
  const board = document.getElementById("board");
  if (!board || board.dataset.canWrite !== "true") {
    return;
  }
  const statusBox = document.getElementById("board-status");
  const errorBox = document.getElementById("board-error");
  let dragged = null;

  function announce(message) {
    statusBox.textContent = message;
    statusBox.classList.remove("d-none");
    errorBox.classList.add("d-none");
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("d-none");
    statusBox.classList.add("d-none");
  }

  // The server lists each column by name; a moved card takes its place in that order.
  function placeCard(card, list) {
    const name = card.dataset.name;
    const after = Array.prototype.find.call(list.querySelectorAll(".board-card"), function (other) {
      return other !== card && other.dataset.name.localeCompare(name, "da") > 0;
    });
    list.insertBefore(card, after || null);
    card.classList.add("board-card-moved");
    window.setTimeout(function () { card.classList.remove("board-card-moved"); }, 2500);
  }

  function updateCounts() {
    board.querySelectorAll(".board-column").forEach(function (column) {
      column.querySelector(".board-count").textContent = column.querySelectorAll(".board-card").length;
    });
  }

  function columnOf(element) {
    return element && element.closest(".board-column");
  }

  function moveCard(card, stage, keepFocus) {
    const form = card.querySelector("form.board-move");
    const select = form.querySelector("select[name=stage]");
    const previous = columnOf(card).dataset.stage;
    if (stage === previous) {
      return;
    }
    const data = new FormData(form);
    data.set("stage", stage);
    const token = form.querySelector("input[name=csrf_token]");
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "X-CSRFToken": token ? token.value : ""
      }
    }).then(function (response) {
      return response.json().catch(function () {
        return { ok: false, message: board.dataset.failedText };
      }).then(function (payload) {
        if (!response.ok || !payload.ok) {
          throw new Error(payload.message || board.dataset.failedText);
        }
        return payload;
      });
    }).then(function (payload) {
      select.value = payload.stage;
      card.querySelector(".board-since").textContent = payload.since;
      const target = board.querySelector('.board-column[data-stage="' + payload.stage + '"] .board-list');
      if (target) {
        placeCard(card, target);
      }
      updateCounts();
      announce(payload.message);
      if (keepFocus) {
        select.focus();
      }
    }).catch(function (error) {
      select.value = previous;
      showError(error.message || board.dataset.failedText);
    });
  }

  board.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".board-card");
    if (!card) {
      return;
    }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.code);
    card.classList.add("opacity-50");
  });

  board.addEventListener("dragend", function () {
    if (dragged) {
      dragged.classList.remove("opacity-50");
    }
    dragged = null;
    board.querySelectorAll(".board-column").forEach(function (column) {
      column.classList.remove("border-primary", "bg-light");
    });
  });

  board.addEventListener("dragover", function (event) {
    const column = columnOf(event.target);
    if (dragged && column) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      column.classList.add("border-primary", "bg-light");
    }
  });

  board.addEventListener("dragleave", function (event) {
    const column = columnOf(event.target);
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("border-primary", "bg-light");
    }
  });

  board.addEventListener("drop", function (event) {
    const column = columnOf(event.target);
    if (!dragged || !column) {
      return;
    }
    event.preventDefault();
    column.classList.remove("border-primary", "bg-light");
    moveCard(dragged, column.dataset.stage, false);
  });

  // The card's own form (keyboard and mouse alike) moves the card in place, without a reload.
  board.addEventListener("submit", function (event) {
    const form = event.target.closest && event.target.closest("form.board-move");
    if (!form) {
      return;
    }
    event.preventDefault();
    moveCard(form.closest(".board-card"), form.querySelector("select[name=stage]").value, true);
  });
})();
