/* OpenCoO portal: help while filling the application form. Everything here is a convenience on
   top of a form that works without it: the server lists every office (grouped), shows the INR
   equivalents as saved, and the API checks everything again on save and submission.
   - the issuing authority: choosing an agency keeps only its regional and issuing offices;
   - the HS code inputs: the code's description from the API's public HS reference, as you type;
   - the FOB values: their INR equivalent at the rates in force on the invoice date;
   - each product: the API's origin check (RVC against the threshold) of the form as typed;
   - a document input: a file over the size the API takes is refused before it is sent.
   Data and texts come from the page (#form-data, data attributes): CSP allows no inline script. */
(function () {
  "use strict";
  var block = document.getElementById("form-data");
  var data = block ? JSON.parse(block.textContent) : { texts: {} };
  var texts = data.texts || {};

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
      return name in values ? values[name] : whole;
    });
  }

  /* --- agency -> regional office -> issuing office ------------------------------------------ */

  function offices(fieldset) {
    var level = function (name) { return fieldset.querySelector('[data-office-level="' + name + '"]'); };
    var agency = level("agency");
    var region = level("region");
    var office = level("office");
    if (!agency || !region || !office) { return; }
    // the groups as the server wrote them, in order: narrowing takes some out, widening puts back
    var all = {
      region: Array.prototype.slice.call(region.querySelectorAll("optgroup")),
      office: Array.prototype.slice.call(office.querySelectorAll("optgroup"))
    };

    function keep(select, groups, fits) {
      var chosen = select.value;
      groups.forEach(function (group) { if (group.parentNode) { group.parentNode.removeChild(group); } });
      var still = false;
      groups.forEach(function (group) {
        if (!fits(group)) { return; }
        select.appendChild(group);
        if (group.querySelector('option[value="' + CSS.escape(chosen) + '"]')) { still = true; }
      });
      select.value = still ? chosen : "";
    }

    function narrow() {
      keep(region, all.region, function (group) {
        return !agency.value || group.dataset.agency === agency.value;
      });
      // one regional office for the agency: it is the one
      var left = region.querySelectorAll("option[value]:not([value=''])");
      if (!region.value && left.length === 1) { region.value = left[0].value; }
      keep(office, all.office, function (group) {
        return (!agency.value || group.dataset.agency === agency.value) &&
          (!region.value || group.dataset.region === region.value);
      });
    }

    agency.addEventListener("change", narrow);
    region.addEventListener("change", narrow);
    narrow();
  }

  /* --- HS code look-up ------------------------------------------------------------------------ */

  var HS_CODE = /^(\d{2}|\d{4}|\d{6}|\d{8})$/;
  var WAIT = 350; // ms after the last key: one look-up per pause, not per key

  function hsLookup(input) {
    var note = document.getElementById("hs-" + input.name.replace(/\.hs_code$/, ""));
    if (!note) { return; }
    var timer = null;
    var busy = false;      // at most one request in flight for this input
    var asked = null;      // the code of the answer shown (or being fetched)

    function show(text) { note.textContent = text; }

    function look() {
      var code = input.value.replace(/[\s.]/g, "");
      if (!code) { asked = null; show(""); return; }
      if (!HS_CODE.test(code)) { asked = null; show(texts.hs_invalid); return; }
      if (code === asked) { return; }
      if (busy) { return; } // the answer in flight looks again when it comes
      busy = true;
      asked = code;
      show(texts.looking);
      fetch(data.hs_path + encodeURIComponent(code), { headers: { Accept: "application/json" } })
        .then(function (answer) {
          if (answer.status === 404) { return { text: texts.hs_unknown }; }
          if (answer.status === 400) { return { text: texts.hs_invalid }; }
          if (!answer.ok) { throw new Error(String(answer.status)); }
          return answer.json().then(function (body) { return { text: body.code + ": " + body.description }; });
        })
        .catch(function () { return { text: texts.hs_unavailable, retry: true }; })
        .then(function (result) {
          busy = false;
          if (result.retry) { asked = null; }
          var now = input.value.replace(/[\s.]/g, "");
          if (now !== code) { look(); return; } // typed on meanwhile: this answer is stale
          show(result.text);
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(look, WAIT);
    });
    look();
  }

  /* --- INR equivalents at the invoice date's rates ------------------------------------------- */

  var money = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function equivalents(form) {
    var rates = data.rates || { on: "", rates: {} };
    var dateInput = form.querySelector("[data-rate-date]");
    var busy = false;

    function update(product) {
      var value = product.querySelector("[data-fob-value]");
      var currency = product.querySelector("[data-fob-currency]");
      var note = product.querySelector("[data-inr-equivalent]");
      if (!value || !currency || !note) { return; }
      var amount = Number(value.value.replace(/,/g, ""));
      var code = currency.value.trim().toUpperCase();
      if (!value.value.trim() || !code || !isFinite(amount)) { note.textContent = ""; return; }
      var rate = rates.rates[code];
      note.textContent = rate === undefined
        ? fill(texts.no_rate, { currency: code, day: rates.on })
        : fill(texts.inr, { amount: "₹ " + money.format(Math.round(amount * Number(rate) * 100) / 100) });
    }

    function updateAll() { form.querySelectorAll("[data-product]").forEach(update); }

    function reload() {
      var day = dateInput ? dateInput.value : "";
      if (busy || !day || day === rates.on) { return; }
      busy = true;
      fetch(data.rates_path + "?on=" + encodeURIComponent(day), { headers: { Accept: "application/json" } })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (body) {
          if (body) {
            var found = { INR: "1" };
            body.rates.forEach(function (r) { found[r.currency] = r.rate; });
            rates = { on: body.on, rates: found };
            updateAll();
          }
        })
        .catch(function () { /* the rates shown stay those of the page; the API checks anyway */ })
        .then(function () {
          busy = false;
          if (dateInput.value !== day) { reload(); } // changed again while asking: its own rates
        });
    }

    form.addEventListener("input", function (event) {
      var product = event.target.closest("[data-product]");
      if (product && (event.target.matches("[data-fob-value]") || event.target.matches("[data-fob-currency]"))) {
        update(product);
      }
    });
    if (dateInput) { dateInput.addEventListener("change", reload); }
  }

  /* --- the origin check of the form as it stands ---------------------------------------------- */

  var ORIGIN_WAIT = 800; // ms: after a pause in typing, not on every key

  function originCheck(form) {
    var timer = null;
    var busy = false;     // one check in flight for the form
    var again = false;    // the form changed while it was in flight

    function show(note, text, verdict) {
      note.textContent = text;
      note.classList.remove("meets", "fails", "open");
      if (verdict) { note.classList.add(verdict); }
    }

    function ask() {
      if (busy) { again = true; return; }
      busy = true;
      again = false;
      fetch(data.origin_path, {
        method: "POST",
        body: new FormData(form), // with the form's CSRF token, as a save would send it
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (answer) {
        return answer.json().then(function (body) { return { ok: answer.ok, body: body }; });
      }).then(function (result) {
        var notes = {};
        form.querySelectorAll("[data-product]").forEach(function (product) {
          notes[product.dataset.product] = product.querySelector("[data-origin-note]");
        });
        if (!result.ok) {
          Object.keys(notes).forEach(function (name) {
            if (notes[name] && notes[name].textContent) {
              show(notes[name], fill(texts.origin_refused, { message: result.body.error.message }), "open");
            }
          });
          return;
        }
        var answered = {};
        result.body.products.forEach(function (check) {
          answered[check.input] = true;
          var note = notes[check.input];
          if (!note) { return; }
          var verdict = check.meets === true ? "meets" : (check.meets === false ? "fails" : "open");
          show(note, fill(texts.origin, { message: check.message }), verdict);
        });
        Object.keys(notes).forEach(function (name) {
          if (notes[name] && !answered[name]) { show(notes[name], "", null); }
        });
      }).catch(function () { /* no answer: the notes stay; submission checks anyway */ })
        .then(function () {
          busy = false;
          if (again) { ask(); }
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, ORIGIN_WAIT);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }

  /* --- a document's size, before it is sent ----------------------------------------------------- */

  function marked(input) {
    var most = Number(input.dataset.maxBytes);
    var tooLarge = Boolean(input.files.length && most && input.files[0].size > most);
    var error = document.getElementById(input.id + "-error");
    if (error) { error.hidden = !tooLarge; }
    input.setAttribute("aria-invalid", tooLarge ? "true" : "false");
    return tooLarge;
  }

  function sizeGuard(form) {
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=file][data-max-bytes]"));
    inputs.forEach(function (input) {
      input.addEventListener("change", function () { marked(input); });
      // the browser's own check may stop the form first: the message shows beside the input too
      input.addEventListener("invalid", function () { marked(input); });
    });
    form.addEventListener("submit", function (event) {
      var refused = inputs.filter(marked);
      if (refused.length) { event.preventDefault(); refused[0].focus(); }
    });
  }

  document.querySelectorAll("[data-offices]").forEach(offices);
  document.querySelectorAll("input[data-hs-lookup]").forEach(hsLookup);
  document.querySelectorAll("form.application-form").forEach(equivalents);
  document.querySelectorAll("form.application-form[data-origin-check]").forEach(originCheck);
  document.querySelectorAll("form[data-size-guard]").forEach(sizeGuard);
}());
