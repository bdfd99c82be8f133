/*
 * Witness pages: consent helpers, resumable uploads with tus-js-client, the receipt download.
 *
 * Loaded as a file (the Content-Security-Policy allows no inline script). Strings come from
 * the page's <script type="application/json" id="i18n"> block, in the page's language.
 *
 * What is kept on the device (localStorage, this origin only):
 *   portal.witness.<submission id>  the witness token, so the page can continue after a reload
 *   portal.last                      the last submission id, to prefill the receipt code
 *   tus::portal-<submission id>-...  tus-js-client's upload URLs, to resume a file
 * "Forget this submission on this device" removes all three.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "portal.witness.";
  var LAST_KEY = "portal.last";
  // Retries after a dropped connection (ms); after the last one the page keeps trying every
  // 20 s, and at once when the browser says it is back online.
  var RETRY_DELAYS = [0, 1000, 2000, 4000, 8000, 15000, 30000];
  var RETRY_LATER = 20000;

  var strings = {};
  try {
    var block = document.getElementById("i18n");
    strings = JSON.parse((block && block.textContent) || "{}");
  } catch (e) {
    strings = {};
  }
  var lang = document.documentElement.lang || "es";

  function t(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }

  function saveToken(id, token) {
    var s = storage();
    if (!s) return;
    try {
      s.setItem(TOKEN_KEY + id, token);
      s.setItem(LAST_KEY, id);
    } catch (e) {
      /* storage full or disabled: the page still works until it is closed */
    }
  }

  function loadToken(id) {
    var s = storage();
    return (s && s.getItem(TOKEN_KEY + id)) || "";
  }

  function forget(id) {
    var s = storage();
    if (!s) return;
    var doomed = [];
    for (var i = 0; i < s.length; i++) {
      var key = s.key(i);
      if (key && key.indexOf("tus::portal-" + id + "-") === 0) doomed.push(key);
    }
    doomed.forEach(function (key) {
      s.removeItem(key);
    });
    s.removeItem(TOKEN_KEY + id);
    if (s.getItem(LAST_KEY) === id) s.removeItem(LAST_KEY);
  }

  // Readable tokens are the whole receipt code; older ones came after the submission id.
  function codeOf(id, token) {
    return token.indexOf("wt_") === 0 ? id + "." + token : token;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var announcer = null;
  function announce(message) {
    if (!announcer) announcer = document.getElementById("announce");
    if (announcer) {
      announcer.textContent = "";
      window.setTimeout(function () {
        announcer.textContent = message;
      }, 50);
    }
  }

  var number1 = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  var percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });

  function bytes(n) {
    var units = ["B", "kB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return number1.format(n) + " " + units[i];
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + (seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // --- small things on several pages ---------------------------------------------------------

  function afterPost() {
    // Pages answering a POST carry their GET address: a reload then shows the code form
    // instead of asking to send the form again.
    var marker = document.getElementById("after-post");
    if (marker && marker.dataset.url && window.history.replaceState) {
      window.history.replaceState(null, "", marker.dataset.url);
    }
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copy);
        if (!source) return;
        var text = source.textContent.trim();
        var selectIt = function () {
          var range = document.createRange();
          range.selectNodeContents(source);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(
            function () {
              announce(t("copied"));
              button.textContent = t("copied");
            },
            selectIt
          );
        } else {
          selectIt();
        }
      });
    });
  }

  function autofillCode() {
    var input = document.querySelector("input[data-autofill]");
    if (!input || input.value) return;
    var s = storage();
    var id = s && s.getItem(LAST_KEY);
    var token = id && loadToken(id);
    if (id && token) input.value = codeOf(id, token);
  }

  function timezoneField() {
    // The offset of the chosen date in this browser's zone, not today's: across a daylight
    // saving change the two differ by an hour.
    var field = document.getElementById("tz-offset");
    var when = document.getElementById("occurred_at");
    if (!field) return;
    function update() {
      var at = when && when.value ? new Date(when.value) : new Date();
      field.value = isNaN(at.getTime()) ? "" : String(-at.getTimezoneOffset());
    }
    update();
    if (when) when.addEventListener("change", update);
    if (when && when.form) when.form.addEventListener("submit", update);
  }

  function receiptDownload() {
    var button = document.getElementById("download-receipt");
    if (!button) return;
    button.addEventListener("click", function () {
      var id = button.dataset.submission;
      var token = button.dataset.token || loadToken(id);
      fetch("/api/v1/submissions/" + encodeURIComponent(id) + "/receipt?download=1", {
        headers: { Authorization: "Bearer " + token },
        cache: "no-store",
        credentials: "omit",
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.blob();
        })
        .then(function (blob) {
          var url = URL.createObjectURL(blob);
          var link = document.createElement("a");
          link.href = url;
          link.download = "receipt-" + id + ".json";
          document.body.appendChild(link);
          link.click();
          link.remove();
          window.setTimeout(function () {
            URL.revokeObjectURL(url);
          }, 30000);
        })
        .catch(function () {
          announce(t("download_failed"));
          window.alert(t("download_failed"));
        });
    });
  }

  function printButton() {
    var button = document.getElementById("print-now");
    if (button) button.addEventListener("click", function () {
      window.print();
    });
  }

  function forgetButton() {
    var button = document.getElementById("forget");
    if (!button) return;
    button.addEventListener("click", function () {
      forget(button.dataset.submission);
      var done = document.getElementById("forgotten");
      if (done) {
        done.hidden = false;
        announce(done.textContent);
      }
    });
  }

  // --- the uploader --------------------------------------------------------------------------

  function uploader(root) {
    var id = root.dataset.submission;
    var token = root.dataset.token;
    if (token) {
      saveToken(id, token);
    } else {
      token = loadToken(id);
    }
    if (root.dataset.url && window.history.replaceState) {
      window.history.replaceState(null, "", root.dataset.url);
    }
    var main = document.getElementById("upload-main");
    if (!token) {
      document.getElementById("no-code").hidden = false;
      main.hidden = true;
      return;
    }
    var code = codeOf(id, token);
    var codeBox = document.getElementById("receipt-code");
    if (codeBox && !codeBox.textContent.trim()) codeBox.textContent = code;
    document.getElementById("receipt-form-code").value = code;

    if (typeof window.tus === "undefined" || !window.tus.isSupported) {
      main.insertBefore(el("p", "alert", t("failed", { msg: "tus" })), main.firstChild);
      return;
    }

    var endpoint = root.dataset.endpoint;
    // window.portalTusChunkSize lets a test (or someone debugging) use smaller requests.
    var chunkSize =
      Number(window.portalTusChunkSize) || Number(root.dataset.chunkSize) || 4 * 1024 * 1024;
    var auth = { Authorization: "Bearer " + token };
    var items = [];
    var counter = 0;
    var input = document.getElementById("files");
    var list = document.getElementById("file-list");

    function busy(item) {
      return item.state === "active" || item.state === "offline" || item.state === "retrying";
    }

    function setState(item, state, message) {
      item.state = state;
      item.li.dataset.state = state;
      item.status.textContent = message;
      item.button.hidden = state === "done" || state === "failed";
      item.button.textContent = state === "paused" || state === "waiting" ? t("resume") : t("pause");
      var heading = document.getElementById("active-h");
      if (heading) heading.textContent =
          unfinished(item) || items.some(unfinished) ? t("uploading") : t("finished");
    }

    function unfinished(item) {
      return item.state !== "done" && item.state !== "failed";
    }

    function fatal(status) {
      return status >= 400 && status < 500 && status !== 423 && status !== 429;
    }

    function reason(status) {
      if (status === 413) return t("too_large");
      if (status === 415) return t("not_media");
      if (status === 410 || status === 404) return t("expired");
      if (status === 409 || status === 401 || status === 403) return t("refused");
      return "HTTP " + status;
    }

    function statusOf(err) {
      return err && err.originalResponse ? err.originalResponse.getStatus() : 0;
    }

    function progress(item, sent, total) {
      var now = Date.now();
      if (item.state === "retrying" || item.state === "offline") {
        setState(item, "active", t("uploading"));
      }
      if (!item.progressed) {
        item.progressed = true;
        item.status.textContent =
          item.resuming && total
            ? t("resumed_from", { pct: Math.floor((100 * sent) / total) })
            : t("uploading");
      } else if (item.status.textContent === t("checking")) {
        item.status.textContent = t("uploading");
      }
      var fraction = total ? sent / total : 0;
      item.bar.value = Math.floor(fraction * 1000) / 10;
      item.li.dataset.progress = String(Math.floor(fraction * 100));
      item.li.dataset.sent = String(sent);
      item.samples.push([now, sent]);
      while (item.samples.length > 2 && now - item.samples[0][0] > 8000) item.samples.shift();
      var first = item.samples[0];
      var parts = [percent.format(fraction)];
      if (now - first[0] >= 500 && sent > first[1]) {
        var speed = ((sent - first[1]) * 1000) / (now - first[0]);
        parts.push(bytes(speed) + "/s");
        parts.push(t("left", { t: duration((total - sent) / speed) }));
      }
      item.stats.textContent = parts.join(" · ");
    }

    function begin(item) {
      item.samples = [];
      setState(item, "active", t("checking"));
      if (item.started) {
        item.upload.start();
        return;
      }
      item.started = true;
      item.upload.findPreviousUploads().then(function (previous) {
        if (previous.length) {
          item.resuming = true;
          item.upload.resumeFromPreviousUpload(previous[0]);
        }
        if (item.state === "active") item.upload.start();
      });
    }

    function pump() {
      if (items.some(busy)) return;
      var next = items.find(function (item) {
        return item.state === "waiting" && !item.held;
      });
      if (next) {
        begin(next);
        return;
      }
      if (items.length && items.every(function (item) {
        return item.state === "done" || item.state === "failed";
      })) {
        announce(t("all_done"));
        refresh();
      }
    }

    function retryLater(item) {
      window.clearTimeout(item.timer);
      if (navigator.onLine === false) {
        setState(item, "offline", t("offline"));
        return; // the "online" event resumes it
      }
      setState(item, "retrying", t("retrying"));
      item.timer = window.setTimeout(function () {
        if (item.state === "retrying") resumeNow(item);
      }, RETRY_LATER);
    }

    function resumeNow(item) {
      window.clearTimeout(item.timer);
      item.samples = [];
      setState(item, "active", t("checking"));
      item.upload.start();
    }

    function toggle(item) {
      if (busy(item)) {
        window.clearTimeout(item.timer);
        item.held = true;
        item.upload.abort();
        setState(item, "paused", t("paused"));
        item.stats.textContent = percent.format((item.bar.value || 0) / 100);
        pump();
      } else if (item.state === "paused" || item.state === "waiting") {
        item.held = false;
        setState(item, "waiting", t("waiting"));
        if (!items.some(busy)) begin(item);
      }
    }

    function add(file) {
      counter += 1;
      var li = el("li", "file");
      var head = el("div", "head");
      var name = el("span", "file-name", file.name);
      name.id = "file-" + counter + "-name";
      head.appendChild(name);
      head.appendChild(el("span", "file-size", bytes(file.size)));
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-labelledby", name.id);
      var stats = el("p", "stats", percent.format(0));
      var status = el("p", "status");
      status.setAttribute("role", "status");
      var button = el("button", "secondary");
      button.type = "button";
      li.appendChild(head);
      li.appendChild(bar);
      li.appendChild(stats);
      li.appendChild(status);
      li.appendChild(button);
      list.appendChild(li);
      document.getElementById("active").hidden = false;

      var item = {
        file: file,
        li: li,
        bar: bar,
        stats: stats,
        status: status,
        button: button,
        state: "waiting",
        samples: [],
        started: false,
        held: false,
        timer: null,
        resuming: false,
        progressed: false,
      };
      var metadata = { filename: file.name };
      if (file.type) metadata.filetype = file.type;
      item.upload = new window.tus.Upload(file, {
        endpoint: endpoint,
        chunkSize: chunkSize,
        retryDelays: RETRY_DELAYS,
        headers: auth,
        metadata: metadata,
        // Per submission, so the same file in another submission is a new upload.
        fingerprint: function (f) {
          return Promise.resolve(
            ["portal", id, f.name, f.type, f.size, f.lastModified].join("-")
          );
        },
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        onShouldRetry: function (err) {
          var status = statusOf(err);
          if (fatal(status) && status !== 409) return false;
          if (navigator.onLine === false) return false;
          if (item.state === "active") setState(item, "retrying", t("retrying"));
          return true;
        },
        onProgress: function (sent, total) {
          progress(item, sent, total);
        },
        onSuccess: function () {
          window.clearTimeout(item.timer);
          item.bar.value = 100;
          item.li.dataset.progress = "100";
          item.stats.textContent = percent.format(1);
          setState(item, "done", t("done"));
          announce(file.name + ": " + t("done"));
          refresh();
          pump();
        },
        onError: function (err) {
          var status = statusOf(err);
          if (fatal(status)) {
            setState(item, "failed", t("failed", { msg: reason(status) }));
            announce(file.name + ": " + item.status.textContent);
            pump();
            return;
          }
          retryLater(item);
        },
      });
      button.addEventListener("click", function () {
        toggle(item);
      });
      setState(item, "waiting", t("waiting"));
      items.push(item);
    }

    function refresh() {
      fetch("/api/v1/submissions/" + encodeURIComponent(id), {
        headers: auth,
        cache: "no-store",
        credentials: "omit",
      })
        .then(function (response) {
          if (response.status === 401 || response.status === 404) {
            document.getElementById("no-code").hidden = false;
            main.hidden = true;
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (status) {
          if (!status) return;
          var received = document.getElementById("received-list");
          received.textContent = "";
          status.files.forEach(function (f) {
            var li = el("li");
            li.appendChild(el("span", "file-name", f.name + " "));
            li.appendChild(el("code", "hash", f.sha256));
            received.appendChild(li);
          });
          document.getElementById("received").hidden = status.files.length === 0;
          var mine = items
            .map(function (item) {
              return item.upload.url || "";
            })
            .filter(Boolean);
          var pending = status.uploads.filter(function (u) {
            return (
              u.status === "active" &&
              !mine.some(function (url) {
                return url.slice(-u.id.length - 1) === "/" + u.id;
              })
            );
          });
          var pendingList = document.getElementById("pending-list");
          pendingList.textContent = "";
          pending.forEach(function (u) {
            var fraction = u.length ? u.offset / u.length : 0;
            pendingList.appendChild(el("li", "", u.name + " (" + percent.format(fraction) + ")"));
          });
          document.getElementById("pending").hidden = pending.length === 0;
          if (status.status === "withdrawn") {
            input.disabled = true;
          }
        })
        .catch(function () {
          /* offline: the lists update on the next success */
        });
    }

    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, add);
      input.value = "";
      pump();
      // On a phone the progress card is below the fold: bring it into sight.
      var active = document.getElementById("active");
      if (active && active.scrollIntoView) active.scrollIntoView({ block: "start" });
    });

    // Leaving for the receipt while a file is still going abandons it: say so first.
    document.getElementById("receipt-form").addEventListener("submit", function (event) {
      var going = items.filter(unfinished).length;
      if (going && !window.confirm(t("leave_unfinished", { n: going }))) event.preventDefault();
    });

    window.addEventListener("online", function () {
      items.forEach(function (item) {
        if (item.state === "offline" || item.state === "retrying") resumeNow(item);
      });
    });

    refresh();
  }

  // --- start ---------------------------------------------------------------------------------

  afterPost();
  copyButtons();
  autofillCode();
  timezoneField();
  receiptDownload();
  forgetButton();
  printButton();
  var root = document.getElementById("uploader");
  if (root) uploader(root);
})();
