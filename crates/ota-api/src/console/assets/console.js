// OTA console: our own progressive enhancements. Every page works without this file;
// with it, times show in the viewer's zone, bad input is explained next to its field
// before a form is sent, uploads show progress, the rollout wizard's waves can be added
// and removed, and batch pages update live.
(function () {
  "use strict";
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var loadedAt = Date.now();

  function localTimes(root) {
    $$("time[data-ms]", root).forEach(function (t) {
      var d = new Date(Number(t.dataset.ms));
      if (!isNaN(d)) { t.title = t.textContent; t.textContent = d.toLocaleString(); }
    });
  }

  // ---- sections that depend on a choice: [data-switch] radios drive [data-when] blocks.
  function radioValue(form, name) {
    var r = form.querySelector('input[type=radio][name="' + name + '"]:checked');
    return r ? r.value : "";
  }
  function applySwitches(form) {
    $$("[data-when]", form).forEach(function (el) {
      var parts = el.dataset.when.split("=");
      var shown = parts[1].split(",").indexOf(radioValue(form, parts[0])) >= 0;
      var parent = el.parentElement && el.parentElement.closest("[data-when]");
      if (parent && parent.hidden) { shown = false; }
      el.hidden = !shown;
    });
    $$("input, select, textarea", form).forEach(function (c) {
      if (c.type === "hidden") { return; }
      var hiddenBlock = c.closest("[data-when][hidden]");
      var needs = c.dataset.needs && !form.querySelector("#" + c.dataset.needs).value;
      c.disabled = !!hiddenBlock || !!needs;
    });
  }

  // ---- validation: the same rules as the server, shown next to the field.
  function errorSlot(c) {
    var f = c.closest(".field");
    return f ? f.querySelector(".field-error") : null;
  }
  function serverNow(form) {
    return Number(form.dataset.now || Date.now()) + (Date.now() - loadedAt);
  }
  function epoch(input) { return input && input.value ? new Date(input.value).getTime() : null; }
  function check(c, form) {
    if (c.disabled || c.type === "hidden" || c.closest("[hidden]")) { return ""; }
    var msg = c.dataset.msg || c.validationMessage;
    if (c.type === "file" && c.dataset.upload) {
      if ($$('#upload-list .upload.busy').length) { return "wait for the upload to finish"; }
      return $$('#upload-list input[name=file_url]').length ? "" : msg;
    }
    if (!c.checkValidity()) { return msg || c.validationMessage; }
    if (c.multiple && c.dataset.max) {
      var n = c.selectedOptions.length;
      if (n < Number(c.dataset.min || 0) || n > Number(c.dataset.max)) { return msg; }
    }
    if (c.hasAttribute("data-positive") && c.value && !(parseFloat(c.value) > 0)) { return msg; }
    if (c.dataset.differs) {
      var other = form.querySelector("#" + c.dataset.differs);
      if (other && c.value && other.value === c.value) { return "must differ from DestVersion"; }
    }
    var now = serverNow(form), m = 60000;
    if (c.dataset.check === "retry" && c.value !== "") {
      var t = form.querySelector("[name=timeout_minutes]");
      if (t && t.value && Number(c.value) >= Number(t.value)) { return msg; }
    }
    if (c.dataset.check === "schedule-start" && c.value) {
      var at = epoch(c);
      if (!(at >= now + 5 * m && at <= now + 7 * 1440 * m)) { return msg; }
    }
    if (c.dataset.check === "schedule-end" && c.value) {
      var start = epoch(form.querySelector("#schedule_time")) || now, end = epoch(c);
      if (!(end >= start + 60 * m && end <= start + 30 * 1440 * m)) { return msg; }
    }
    return "";
  }
  function show(c, msg) {
    var slot = errorSlot(c);
    c.setAttribute("aria-invalid", msg ? "true" : "false");
    if (slot) {
      slot.textContent = msg;
      if (slot.id) { c.setAttribute("aria-describedby", slot.id); }
      slot.closest(".field").classList.toggle("invalid", !!msg);
    }
  }
  function checkGroups(form) {
    var bad = null;
    $$("fieldset[data-src-required]", form).forEach(function (fs) {
      if (fs.closest("[hidden]")) { return; }
      var any = $$("input[type=checkbox]:checked", fs).length || fs.querySelector("input[name=src_versions_more]").value.trim();
      var slot = fs.querySelector(".field-error");
      slot.textContent = any ? "" : "SrcVersion: is required: list 1-10 versions";
      fs.classList.toggle("invalid", !any);
      if (!any && !bad) { bad = fs.querySelector("input"); }
    });
    return bad;
  }
  function validateForm(form) {
    var first = null;
    $$("input, select, textarea", form).forEach(function (c) {
      if (!c.name && !(c.type === "file")) { return; }
      var msg = check(c, form);
      show(c, msg);
      if (msg && !first) { first = c; }
    });
    return first || checkGroups(form);
  }

  function enhanceForm(form) {
    form.noValidate = true;
    applySwitches(form);
    form.addEventListener("change", function (e) {
      if (e.target.type === "radio" || e.target.dataset.needs !== undefined || e.target.id === "retry_interval") { applySwitches(form); }
      if (e.target.name) { show(e.target, check(e.target, form)); }
    });
    form.addEventListener("input", function (e) {
      if (e.target.getAttribute("aria-invalid") === "true") { show(e.target, check(e.target, form)); }
    });
    form.addEventListener("submit", function (e) {
      var bad = validateForm(form);
      if (bad) { e.preventDefault(); bad.focus(); return; }
      $$("[data-epoch]", form).forEach(function (input) {
        var hidden = form.querySelector('input[name="' + input.dataset.epoch + '"]');
        if (hidden) { hidden.value = input.value && !input.disabled ? String(epoch(input)) : ""; }
      });
    });
  }

  // ---- uploads with a progress bar: PUT the raw file, keep the returned reference.
  function uploadFile(input, file) {
    var list = document.getElementById("upload-list");
    var row = document.createElement("div");
    row.className = "upload busy";
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    var state = document.createElement("span");
    state.className = "state"; state.textContent = "0%";
    var name = document.createElement("strong");
    name.textContent = file.name;
    row.appendChild(name); row.appendChild(bar); row.appendChild(state);
    list.appendChild(row);
    var xhr = new XMLHttpRequest();
    xhr.open("PUT", input.dataset.upload + encodeURIComponent(file.name));
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var p = Math.floor(e.loaded * 100 / e.total);
        bar.value = p; state.textContent = p + "% of " + Math.ceil(e.total / 1024) + " KB";
      }
    };
    xhr.onload = function () {
      row.classList.remove("busy");
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = { message: xhr.statusText }; }
      if (xhr.status === 201) {
        row.classList.add("done");
        bar.value = 100;
        state.textContent = "uploaded · " + body.size + " bytes · MD5 " + body.md5;
        var url = document.createElement("input");
        url.type = "hidden"; url.name = "file_url"; url.value = body.url;
        var label = document.createElement("label");
        label.textContent = "Name ";
        var fname = document.createElement("input");
        fname.name = "file_name"; fname.value = file.name.slice(0, 32); fname.maxLength = 32;
        label.appendChild(fname);
        row.appendChild(url); row.appendChild(label);
        show(input, "");
      } else {
        row.classList.add("failed");
        state.textContent = (body.field ? body.field + ": " : "") + (body.message || "upload failed");
        show(input, state.textContent);
      }
    };
    xhr.onerror = function () { row.classList.remove("busy"); row.classList.add("failed"); state.textContent = "upload failed"; };
    xhr.send(file);
  }
  function enhanceUpload(input) {
    var multi = document.getElementById("fw_multi");
    if (multi) { multi.addEventListener("change", function () { input.multiple = multi.checked; }); }
    input.addEventListener("change", function () {
      if (!multi || !multi.checked) { document.getElementById("upload-list").innerHTML = ""; }
      Array.prototype.forEach.call(input.files, function (f) { uploadFile(input, f); });
    });
  }

  // ---- small helpers: tag rows, device filter, confirmations.
  function enhanceTags(button) {
    button.addEventListener("click", function () {
      var box = button.parentElement.querySelector(".tags");
      var rows = $$(".tag-row", box);
      if (rows.length >= Number(box.dataset.max)) { return; }
      var row = rows[rows.length - 1].cloneNode(true);
      $$("input", row).forEach(function (i) { i.value = ""; i.id = i.id.replace(/\d+$/, rows.length); });
      $$("label", row).forEach(function (l) {
        l.htmlFor = l.htmlFor.replace(/\d+$/, rows.length);
        l.textContent = l.textContent.replace(/\d+/, rows.length + 1);
      });
      box.appendChild(row);
      row.querySelector("input").focus();
    });
  }
  function enhanceFilter(input) {
    var select = document.getElementById(input.dataset.filter);
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      $$("option", select).forEach(function (o) { o.hidden = q && o.value.toLowerCase().indexOf(q) < 0 && !o.selected; });
    });
  }

  // ---- rollout waves: rows added and removed, each row's names and error slots
  // renumbered so they stay w1_…, w2_… and Waves.1, Waves.2 in the order shown.
  function renumberWave(row, n) {
    var rename = function (v) { return v.replace(/^w\d+([_-])/, "w" + n + "$1"); };
    ["name", "id", "for", "data-when", "data-switch", "aria-describedby"].forEach(function (a) {
      $$("[" + a + "]", row).forEach(function (el) { el.setAttribute(a, rename(el.getAttribute(a))); });
    });
    [row].concat($$("[data-param]", row)).forEach(function (el) {
      el.dataset.param = el.dataset.param.replace(/^Waves\.\d+/, "Waves." + n);
    });
    row.dataset.param = "Waves." + n;
    row.querySelector("input[name=wave]").value = String(n);
    $$(".wave-num", row).forEach(function (el) { el.textContent = String(n); });
  }
  function enhanceWaves(box) {
    var form = box.closest("form"), add = form.querySelector("[data-add-wave]");
    var rows = function () { return $$("fieldset.wave", box); };
    function refresh() {
      var all = rows();
      all.forEach(function (row, i) {
        renumberWave(row, i + 1);
        row.querySelector("[data-remove-wave]").hidden = all.length < 2;
      });
      add.hidden = all.length >= Number(box.dataset.max);
      applySwitches(form);
    }
    add.addEventListener("click", function () {
      var all = rows();
      if (all.length >= Number(box.dataset.max)) { return; }
      var row = all[all.length - 1].cloneNode(true);
      $$("input, select, textarea", row).forEach(function (c) {
        if (c.type === "hidden") { return; }
        if (c.type === "radio") { c.checked = c.hasAttribute("data-default"); }
        else if (c.type === "checkbox") { c.checked = false; }
        else if (c.tagName === "SELECT") {
          Array.prototype.forEach.call(c.options, function (o, i) { o.selected = !c.multiple && i === 0; });
        } else { c.value = c.dataset.default || ""; }
        c.removeAttribute("aria-invalid");
      });
      $$(".field-error", row).forEach(function (e) { e.textContent = ""; });
      $$(".invalid", row).forEach(function (e) { e.classList.remove("invalid"); });
      // Renamed before it joins the form, so its radios do not join the last row's groups.
      renumberWave(row, all.length + 1);
      box.appendChild(row);
      refresh();
      row.querySelector("input:not([type=hidden])").focus();
    });
    box.addEventListener("click", function (e) {
      var button = e.target.closest("[data-remove-wave]");
      if (!button || rows().length < 2) { return; }
      button.closest("fieldset.wave").remove();
      refresh();
      add.focus();
    });
    refresh();
  }

  // ---- live batch pages: server-sent events patch counts and changed rows in place.
  function live(section) {
    var es = new EventSource(section.dataset.liveSrc);
    var applied = 0;
    es.addEventListener("update", function (e) {
      var u = JSON.parse(e.data), c = u.counts, total = Number(c.total) || 0;
      Object.keys(c).forEach(function (k) {
        $$('[data-live="' + k + '"]').forEach(function (el) { el.textContent = c[k]; });
        $$('[data-live-width="' + k + '"]').forEach(function (el) {
          el.style.width = (total ? Number(c[k]) * 100 / total : 0).toFixed(2) + "%";
        });
      });
      $$('[data-live-badge="job_status"]').forEach(function (el) { el.innerHTML = u.job_status_html; });
      var tbody = document.querySelector("#task-table tbody");
      (u.rows || []).forEach(function (r) {
        var old = document.getElementById(r.id);
        if (old) {
          var box = old.querySelector("input[type=checkbox]"), was = box && box.checked;
          old.insertAdjacentHTML("afterend", r.html);
          old.remove();
          var fresh = document.getElementById(r.id);
          if (was) { fresh.querySelector("input[type=checkbox]").checked = true; }
          if (applied > 0) { fresh.classList.add("flash-row"); }
          localTimes(fresh);
        } else if (tbody) {
          tbody.insertAdjacentHTML("beforeend", r.html);
          localTimes(document.getElementById(r.id));
        }
      });
      applied += 1;
      document.body.dataset.liveUpdates = String(applied);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    $$("form[data-validate]").forEach(enhanceForm);
    $$("input[type=file][data-upload]").forEach(enhanceUpload);
    $$("button[data-add-tag]").forEach(enhanceTags);
    $$("#waves[data-max]").forEach(enhanceWaves);
    $$("input[data-filter]").forEach(enhanceFilter);
    $$("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) { if (!window.confirm(f.dataset.confirm)) { e.preventDefault(); } });
    });
    $$("[data-live-src]").forEach(live);
  });
})();
