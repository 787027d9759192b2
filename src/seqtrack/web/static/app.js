// SeqTrack pages: the scan box, a keyboard-wedge scanner anywhere on the page, and live updates.
// Everything here is an enhancement: every page and form works without it.
(function () {
  "use strict";

  var scanBox = document.querySelector("[data-scan-box]");

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function openCode(code) {
    window.location.assign("/scan?code=" + encodeURIComponent(code));
  }

  // "/" focuses the scan box, as in most search-first tools.
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && scanBox && !typing(event.target) && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      scanBox.focus();
      scanBox.select();
    }
  });

  // A keyboard-wedge scanner types a code far faster than a person, then Enter.
  // Outside a form field, such a burst opens what was scanned, wherever focus was.
  var burst = "";
  var lastKeyAt = 0;
  // Scanners send a key every few milliseconds; a person rarely twice within 80 ms.
  var WEDGE_GAP_MS = 80;
  var WEDGE_MIN_LENGTH = 4;
  document.addEventListener("keydown", function (event) {
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    // When the key was pressed, not when a busy page got round to handling it.
    var now = event.timeStamp;
    if (now - lastKeyAt > WEDGE_GAP_MS) {
      burst = "";
    }
    lastKeyAt = now;
    if (event.key === "Enter") {
      if (burst.length >= WEDGE_MIN_LENGTH) {
        event.preventDefault();
        openCode(burst);
      }
      burst = "";
    } else if (event.key.length === 1) {
      burst += event.key;
    }
  });

  // Select every sample on the page for a bulk move.
  document.addEventListener("change", function (event) {
    var all = event.target.closest && event.target.closest("[data-select-all]");
    if (!all) {
      return;
    }
    var form = all.closest("form");
    form.querySelectorAll('input[name="sample_ids"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // Upload: a file dropped on the drop zone fills its file input; the form is sent with the CSRF header
  // (a multipart body is never parsed for the token) and shows how much of the file has gone up.
  function dropzoneOf(event) {
    return event.target.closest && event.target.closest("[data-dropzone]");
  }

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = dropzoneOf(event);
      if (zone) {
        event.preventDefault();
        zone.classList.add("over");
      }
    });
  });
  document.addEventListener("dragleave", function (event) {
    var zone = dropzoneOf(event);
    if (zone) {
      zone.classList.remove("over");
    }
  });
  document.addEventListener("drop", function (event) {
    var zone = dropzoneOf(event);
    if (!zone) {
      return;
    }
    event.preventDefault();
    zone.classList.remove("over");
    var input = zone.querySelector('input[type="file"]');
    if (input && event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest("[data-upload-form]");
    if (!form || !window.XMLHttpRequest || !window.FormData) {
      return;
    }
    event.preventDefault();
    var request = new XMLHttpRequest();
    var shown = form.querySelector("[data-upload-progress]");
    var meter = shown && shown.querySelector("progress");
    var button = form.querySelector('button[type="submit"]');
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRF-Token", form.getAttribute("data-csrf") || "");
    request.upload.addEventListener("progress", function (progress) {
      if (meter && progress.lengthComputable) {
        meter.value = Math.round((100 * progress.loaded) / progress.total);
      }
    });
    request.addEventListener("load", function () {
      // The preview, after the redirect: go there. A refusal is the upload page again: show it.
      if (request.status < 300 && request.responseURL && request.responseURL.indexOf("/submissions/new") < 0) {
        window.location.assign(request.responseURL);
        return;
      }
      var page = new DOMParser().parseFromString(request.responseText, "text/html");
      var main = page.getElementById("main");
      if (!main) {
        announce("The upload was refused (" + request.status + "). Reload the page and try again.");
        if (button) {
          button.disabled = false;
        }
      } else {
        document.getElementById("main").innerHTML = main.innerHTML;
        var alert = document.querySelector("#main [role=alert]");
        if (alert) {
          alert.setAttribute("tabindex", "-1");
          alert.focus();
        }
      }
    });
    request.addEventListener("error", function () {
      announce("The upload failed: the connection was lost. Try again.");
      if (button) {
        button.disabled = false;
      }
    });
    if (shown) {
      shown.hidden = false;
    }
    if (button) {
      button.disabled = true;
    }
    request.send(new FormData(form));
  });

  // The order form: "More rows" adds a row here instead of asking the server for the page again.
  document.addEventListener("click", function (event) {
    var add = event.target.closest && event.target.closest("[data-add-row]");
    var form = add && add.closest("[data-order-form]");
    var body = form && form.querySelector("[data-order-body]");
    var rows = body && body.querySelectorAll("[data-order-row]");
    if (!rows || !rows.length) {
      return;
    }
    event.preventDefault();
    var index = rows.length;
    var row = rows[rows.length - 1].cloneNode(true);
    var renumber = function (value) {
      return value.replace(/_\d+(-error)?$/, "_" + index + "$1");
    };
    row.querySelector("th").textContent = String(index + 1);
    row.querySelectorAll(".field-error").forEach(function (note) {
      note.remove();
    });
    row.querySelectorAll("td").forEach(function (cell) {
      cell.classList.remove("cell-error");
    });
    row.querySelectorAll("label").forEach(function (label) {
      label.htmlFor = renumber(label.htmlFor);
      label.textContent = label.textContent.replace(/Sample \d+/, "Sample " + (index + 1));
    });
    row.querySelectorAll("input, select").forEach(function (field) {
      field.id = renumber(field.id);
      field.name = renumber(field.name);
      field.value = "";
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
    });
    body.appendChild(row);
    form.querySelector("[data-order-rows]").value = String(index + 1);
    row.querySelector("input, select").focus();
  });

  // Live: when someone else changes what this page shows, refresh that part and say so.
  var banner = document.querySelector("[data-live-banner]");
  var bannerTimer = null;

  function announce(text) {
    if (!banner) {
      return;
    }
    banner.textContent = text;
    banner.hidden = false;
    window.clearTimeout(bannerTimer);
    bannerTimer = window.setTimeout(function () {
      banner.hidden = true;
    }, 8000);
  }

  // A region someone is working in (typing in one of its fields, or a field changed and not
  // yet saved) is left as it is: the banner says what changed, and their typing is never replaced.
  // Focus on a link or a disclosure is not work in progress: that region refreshes, keeping focus.
  function inUse(region) {
    if (region.contains(document.activeElement) && typing(document.activeElement)) {
      return true;
    }
    var fields = region.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.type === "hidden") {
        continue;
      }
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) {
          return true;
        }
      } else if (field.tagName === "SELECT") {
        if (selectChanged(field)) {
          return true;
        }
      } else if (field.value !== field.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function selectChanged(select) {
    // A single select with no option marked selected shows its first option by default.
    var initial = select.multiple ? -1 : 0;
    for (var j = 0; j < select.options.length; j++) {
      var option = select.options[j];
      if (select.multiple && option.selected !== option.defaultSelected) {
        return true;
      }
      if (option.defaultSelected && initial === 0) {
        initial = j;
      }
    }
    return !select.multiple && select.selectedIndex !== initial;
  }

  // A bulk move of a thousand samples is a thousand events: a region refreshes once for a burst,
  // shortly after its first event, instead of asking the server for the page a thousand times.
  var REFRESH_AFTER_MS = 400;
  var pending = {};

  function refresh(region) {
    if (!window.htmx || !region.id || inUse(region)) {
      return false;
    }
    if (!pending[region.id]) {
      pending[region.id] = window.setTimeout(function () {
        delete pending[region.id];
        var current = document.getElementById(region.id);
        if (!current || inUse(current)) {
          return;
        }
        var kept = keptState(current);
        window.htmx
          .ajax("GET", window.location.pathname + window.location.search, {
            target: "#" + current.id,
            select: "#" + current.id,
            swap: "outerHTML",
          })
          .then(function () {
            restoreState(current.id, kept);
            // A region shown while a job runs (a file being read) gives way to the whole page once it is done.
            var now = document.getElementById(current.id);
            if (current.hasAttribute("data-reload-when-done") && now && !now.hasAttribute("data-reload-when-done")) {
              window.location.reload();
            }
          });
      }, REFRESH_AFTER_MS);
    }
    return true;
  }

  // What a refresh must not take away: which tables were opened, and where keyboard focus was.
  var FOCUSABLE = "a[href], button, summary, input, select, textarea";

  function keptState(region) {
    var open = [];
    region.querySelectorAll("details[open][id]").forEach(function (details) {
      open.push(details.id);
    });
    var focused = region.contains(document.activeElement)
      ? Array.prototype.indexOf.call(region.querySelectorAll(FOCUSABLE), document.activeElement)
      : -1;
    return { open: open, focused: focused };
  }

  function restoreState(regionId, kept) {
    var region = document.getElementById(regionId);
    if (!region) {
      return;
    }
    kept.open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) {
        details.open = true;
      }
    });
    var again = kept.focused >= 0 ? region.querySelectorAll(FOCUSABLE)[kept.focused] : null;
    if (again) {
      again.focus({ preventScroll: true });
    }
  }

  function matches(region, envelope) {
    var topic = region.getAttribute("data-live-refresh");
    if (topic === "samples") {
      return envelope.aggregate_type === "sample";
    }
    if (topic === "dashboard") {
      return envelope.aggregate_type === "sample";
    }
    var colon = topic.indexOf(":");
    if (colon < 0) {
      // A topic without an id names a whole kind: "run" refreshes on any run's event.
      return envelope.aggregate_type === topic;
    }
    return colon > 0 && envelope.aggregate_type === topic.slice(0, colon) && envelope.aggregate_id === topic.slice(colon + 1);
  }

  function describe(envelope) {
    var who = (envelope.actor && envelope.actor.display) || "someone";
    var what = (envelope.data && (envelope.data.human_id || envelope.data.experiment_id || envelope.data.serial)) || envelope.aggregate_type;
    if (envelope.type === "sample.status_changed" && envelope.data) {
      return what + " moved to " + String(envelope.data.to).replace("_", " ") + " by " + who;
    }
    if (envelope.type === "submission.progress" && envelope.data) {
      return "Submission: " + envelope.data.rows_parsed + " rows read";
    }
    if (envelope.aggregate_type === "submission") {
      return "Submission " + envelope.type.replace("submission.", "").replace("_", " ") + " (" + who + ")";
    }
    if (envelope.type === "run.state_changed" && envelope.data) {
      return "Run " + what + " is " + envelope.data.to + " (" + who + ")";
    }
    return what + " changed by " + who + " (" + envelope.type + ")";
  }

  function onEvent(message) {
    var envelope;
    try {
      envelope = JSON.parse(message.data);
    } catch (error) {
      return;
    }
    var regions = document.querySelectorAll("[data-live-refresh]");
    var matched = false;
    var held = false;
    regions.forEach(function (region) {
      if (matches(region, envelope)) {
        matched = true;
        held = !refresh(region) || held;
      }
    });
    if (matched) {
      announce(describe(envelope) + (held ? ". Parts you are editing were left as they are." : "."));
    }
  }

  if (document.body.getAttribute("data-live") === "on" && window.EventSource && document.querySelector("[data-live-refresh]")) {
    var source = new EventSource("/api/v1/events/stream");
    var types = (document.body.getAttribute("data-live-types") || "").split(",");
    types.forEach(function (type) {
      if (type) {
        source.addEventListener(type, onEvent);
      }
    });
    source.addEventListener("access-revoked", function () {
      source.close();
    });
  }
})();
