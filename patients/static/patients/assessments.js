// Assessment questions shown on a condition of an earlier answer (or of a partial score):
// the same rules as patients/assessments/engine.py, which checks them again on the server.
// A hidden question's inputs are disabled, so its answer is never posted. Delegated on the
// document so cards swapped in by htmx work too. No inline script (CSP).
(function () {
  "use strict";

  function answerOf(box) {
    const kind = box.dataset.kind;
    const checked = box.querySelector("input[type=radio]:checked");
    if (checked) {
      if (kind === "yes_no") return checked.value === "yes";
      return checked.value;
    }
    const field = box.querySelector("select, input:not([type=radio])");
    if (!field || field.disabled || field.value === "") return null;
    if (kind === "number") return Number(field.value);
    return field.value;
  }

  function pointsOf(box) {
    const checked = box.querySelector("input[type=radio]:checked, select option:checked");
    if (checked && checked.dataset.points !== undefined) return Number(checked.dataset.points);
    if (box.dataset.numberScored !== undefined) {
      const value = answerOf(box);
      return value === null ? null : value;
    }
    return null;
  }

  function expected(box, value) {
    if (box && box.dataset.kind === "yes_no" && typeof value === "string") {
      return ["yes", "y", "true", "1", "on"].includes(value.toLowerCase());
    }
    return value;
  }

  function compare(op, actual, value) {
    if (op === "answered") return (actual !== null) === value;
    if (actual === null) return false;
    if (op === "equals") return actual === value;
    if (op === "not_equals") return actual !== value;
    if (op === "in") return value.includes(actual);
    if (typeof actual !== "number") return false;
    return op === "at_least" ? actual >= value : actual <= value;
  }

  const OPS = ["equals", "not_equals", "in", "at_least", "at_most", "answered"];

  function holds(fieldset, prefix, condition, shownAnswers, shownPoints) {
    const op = OPS.find((name) => name in condition);
    let value = condition[op];
    if ("question" in condition) {
      const box = fieldset.querySelector(`[data-question="${prefix}${condition.question}"]`);
      if (op === "in") value = value.map((v) => expected(box, v));
      else if (op === "equals" || op === "not_equals") value = expected(box, value);
      const actual = condition.question in shownAnswers ? shownAnswers[condition.question] : null;
      return compare(op, actual, value);
    }
    const ids = condition.score === "total" ? Object.keys(shownPoints) : condition.score;
    const points = ids.map((id) => shownPoints[id]).filter((p) => p !== null && p !== undefined);
    return compare(op, points.length ? points.reduce((a, b) => a + b, 0) : null, value);
  }

  function refresh(fieldset) {
    const boxes = Array.from(fieldset.querySelectorAll("[data-question]"));
    if (!boxes.length) return;
    const first = boxes[0].dataset.question;
    const prefix = first.slice(0, first.length - (first.split("-").pop() || "").length);
    const shownAnswers = {};
    const shownPoints = {};
    boxes.forEach((box) => {
      const id = box.dataset.question.slice(prefix.length);
      const rule = box.dataset.showIf ? JSON.parse(box.dataset.showIf) : null;
      const show = !rule || holds(fieldset, prefix, rule, shownAnswers, shownPoints);
      box.hidden = !show;
      box.querySelectorAll("input, select").forEach((input) => {
        input.disabled = !show;
      });
      if (show) {
        const answer = answerOf(box);
        if (answer !== null) shownAnswers[id] = answer;
        shownPoints[id] = pointsOf(box);
      }
    });
  }

  document.addEventListener("change", (event) => {
    const fieldset = event.target.closest("[data-assessment]");
    if (fieldset) refresh(fieldset);
  });
  document.addEventListener("input", (event) => {
    const fieldset = event.target.closest("[data-assessment]");
    if (fieldset && event.target.type === "number") refresh(fieldset);
  });
})();
