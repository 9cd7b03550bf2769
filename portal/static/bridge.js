/* OpenCoO portal: signing with the exporter's DSC through `opencoo bridge` on this computer.
   The page never sees a key or a PIN: it sends the bytes to sign to the bridge on 127.0.0.1 and
   puts the signature it answers into the form (and sends the form, for a button marked
   data-bridge-submit). Without a bridge the form still works by hand. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="opencoo-bridge"]');
  var bridge = meta ? meta.content : "http://127.0.0.1:8765";

  function say(button, text) {
    var status = button.form.querySelector("[data-bridge-status]");
    if (status) { status.textContent = text; }
  }

  function base64(bytes) {
    var binary = "";
    var chunk = 0x8000;
    for (var i = 0; i < bytes.length; i += chunk) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
    }
    return window.btoa(binary);
  }

  function bytesToSign(button) {
    if (button.dataset.payload) { return Promise.resolve(button.dataset.payload); }
    var input = button.form.querySelector('input[type="file"][name="file"]');
    if (!input || !input.files.length) { return Promise.reject(new Error("Choose the PDF first.")); }
    return input.files[0].arrayBuffer().then(function (buffer) { return base64(new Uint8Array(buffer)); });
  }

  function sign(button) {
    say(button, "Asking the bridge to sign… (it shows what it signs)");
    bytesToSign(button).then(function (data) {
      var file = button.form.querySelector('input[type="file"][name="file"]');
      return fetch(bridge + "/sign", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          kind: button.dataset.bridgeSign,
          reference: button.dataset.reference || (file && file.files.length ? file.files[0].name : ""),
          iec: button.dataset.iec,
          data_b64: data
        })
      });
    }).then(function (answer) {
      return answer.json().then(function (body) {
        if (!answer.ok) { throw new Error(body.error ? body.error.message : "the bridge refused"); }
        button.form.querySelector('textarea[name="signature"]').value = body.signature_b64;
        if (button.hasAttribute("data-bridge-submit")) {
          if (!button.form.checkValidity()) {  // a field left empty: the browser says which
            say(button, "Signed by " + body.signer + ". Complete the form, then send it.");
            button.form.reportValidity();
            return;
          }
          say(button, "Signed by " + body.signer + ". Sending the form…");
          button.form.requestSubmit();
          return;
        }
        say(button, "Signed by " + body.signer + ". Now send the form.");
      });
    }).catch(function (error) {
      say(button, "Not signed: " + error.message);
    });
  }

  function offer(button) {
    fetch(bridge + "/certificates").then(function (answer) {
      if (!answer.ok) { throw new Error(); }
      return answer.json();
    }).then(function (body) {
      var mine = body.certificates.filter(function (c) { return c.iec === button.dataset.iec; });
      button.hidden = false;
      say(button, mine.length ? "Your DSC on the bridge: " + mine[0].name
        : "The bridge's token holds no certificate for IEC " + button.dataset.iec + ".");
    }).catch(function () {
      say(button, "No signer answered at " + bridge + ": run `opencoo bridge`, or sign by hand below.");
    });
    button.addEventListener("click", function () { sign(button); });
  }

  function checkSize(input) {
    var most = Number(input.dataset.maxBytes);
    var note = document.getElementById(input.id + "-size");
    input.addEventListener("change", function () {
      if (!input.files.length) { return; }
      var size = input.files[0].size;
      var mb = (size / 1048576).toFixed(2) + " MB";
      var tooLarge = most && size > most;
      input.setCustomValidity(tooLarge ? "The file is larger than " + (most / 1048576) + " MB." : "");
      if (note) { note.textContent = tooLarge ? mb + ": too large, at most " + (most / 1048576) + " MB" : mb; }
    });
  }

  document.querySelectorAll("[data-bridge-sign]").forEach(offer);
  document.querySelectorAll("input[data-max-bytes]").forEach(checkSize);
}());
