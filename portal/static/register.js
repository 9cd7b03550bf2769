/* OpenCoO portal: the registration form. "I agree" is enabled once the privacy commitment has
   been scrolled to its end (with the mouse, the keyboard or a finger: the box takes the focus).
   Without this script the box is there to read and the check box works as any other; the
   server requires the agreement either way. */
(function () {
  "use strict";

  function gate(box) {
    var agree = document.getElementById("declaration_accepted");
    var hint = document.getElementById("privacy-hint");
    if (!agree || agree.checked) { return; }  // agreed already (a form shown again): leave it

    function readToEnd() {
      return box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    }

    function check() {
      if (!readToEnd()) { return; }
      agree.disabled = false;
      if (hint) { hint.textContent = hint.dataset.read; }
      box.removeEventListener("scroll", check);
    }

    agree.disabled = true;
    if (hint) {
      hint.hidden = false;
      agree.setAttribute("aria-describedby",
        ((agree.getAttribute("aria-describedby") || "") + " privacy-hint").trim());
    }
    box.addEventListener("scroll", check);
    check();  // a box too short to scroll (a large screen) is read at once
  }

  document.querySelectorAll("[data-privacy]").forEach(gate);
}());
