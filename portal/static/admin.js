/* The HS nomenclature upload with its progress. The form works without this script; with it,
   the file goes by XMLHttpRequest so that the page can show how much of it has been sent, then
   the page the server answers with (the loaded nomenclature, or the API's refusal at the file). */
(function () {
  "use strict";
  if (!window.FormData || !window.DOMParser) {
    return;
  }

  function show(answer) {
    var page = new DOMParser().parseFromString(answer.responseText, "text/html");
    var main = page.querySelector("main");
    if (!main) {
      return;
    }
    document.querySelector("main").replaceWith(document.importNode(main, true));
    document.title = page.title;
    bind();
    // where a reader goes on from: the refusal, else what is loaded now
    var next = document.getElementById("problem") || document.getElementById("loaded");
    if (next) {
      next.setAttribute("tabindex", "-1");
      next.focus();
    }
  }

  function bind() {
    var form = document.getElementById("hs-upload");
    if (!form) {
      return;
    }
    var progress = document.getElementById("hs-progress");
    var said = document.getElementById("hs-progress-text");
    var button = form.querySelector("button[type=submit]");

    function stop(text) {
      progress.hidden = true;
      button.disabled = false;
      said.textContent = text;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.upload.addEventListener("progress", function (sent) {
        if (sent.lengthComputable) {
          var percent = Math.round((100 * sent.loaded) / sent.total);
          progress.value = percent;
          said.textContent = form.dataset.sending + " " + percent + " %";
        }
      });
      request.upload.addEventListener("load", function () {
        progress.value = 100;
        said.textContent = form.dataset.checking;
      });
      request.addEventListener("load", function () {
        stop("");
        show(request);
      });
      request.addEventListener("error", function () {
        stop(form.dataset.failed);
      });
      progress.value = 0;
      progress.hidden = false;
      button.disabled = true;
      request.send(new FormData(form));
    });
  }

  bind();
})();
