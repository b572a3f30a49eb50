/*
 * The upload page: files go straight to S3 with a presigned PUT (progress from XHR), big ones as a
 * multipart upload (parts in parallel, pause and resume), then the page follows their processing over
 * the WebSocket. Plain JavaScript, no build step.
 *
 * A multipart upload survives a reload: the unfinished media is listed as PENDING, and choosing the
 * same file again (same name and size) lists the parts already stored and sends only the others.
 *
 * State survives a reload (the recent media come from GET /api/media/) and a dropped socket (it
 * reconnects with backoff and sends {"action": "sync"}; media it shows as unfinished that the
 * catch-up does not list have finished meanwhile and are read again with GET).
 */
(() => {
  "use strict";

  const config = JSON.parse(document.getElementById("mediahub-config").textContent);
  const list = document.getElementById("media-list");
  const empty = document.getElementById("empty");
  const template = document.getElementById("card-template");
  const connection = document.getElementById("connection");
  const input = document.getElementById("file-input");
  const dropzone = document.getElementById("dropzone");

  const FINAL = new Set(["READY", "REJECTED", "EXPIRED", "ERROR"]); // FAILED can be retried; ERROR is this page's own
  const PARALLEL_UPLOADS = 3;
  const PARALLEL_PARTS = 4; // per file
  const SIGN_BATCH = 8; // part URLs asked for at a time, so they are fresh when used
  const STATUS_TEXT = {
    UPLOADING: "Uploading",
    PENDING: "Not uploaded",
    PROCESSING: "Processing",
    READY: "Ready",
    REJECTED: "Rejected",
    FAILED: "Failed",
    EXPIRED: "Expired",
    ERROR: "Error",
  };
  const STAGE_TEXT = {
    queued: "Waiting in the queue",
    downloading: "Fetching the upload",
    validating: "Checking the file",
    scanning: "Scanning for malware",
    probing: "Reading the file",
    thumbnail: "Making the thumbnail",
    optimized: "Optimizing the image",
    transcoding: "Converting the video",
    uploading: "Saving the results",
    storing: "Saving",
    done: "Done",
  };
  // Browsers leave File.type empty for some formats (the server's formats table; it checks the bytes either way).
  const TYPE_BY_EXTENSION = config.typeByExtension;

  const cards = new Map(); // media id -> Card

  // --- HTTP -------------------------------------------------------------------------

  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = config.csrfToken;
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      // an empty or non-JSON answer
    }
    return { status: response.status, data };
  }

  function messageOf(answer, fallback) {
    return (answer.data && answer.data.error && answer.data.error.message) || fallback;
  }

  class Paused extends Error {}

  /** PUT a body to a presigned URL with exactly the headers it was signed with; resolves to the ETag.
   * `xhrs` collects the request so a pause can abort it. */
  function put(url, headers, body, onProgress, xhrs = new Set()) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhrs.add(xhr);
      xhr.open("PUT", url);
      for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded);
      });
      xhr.addEventListener("loadend", () => xhrs.delete(xhr));
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader("ETag"));
        else reject(new Error(`The storage refused the upload (HTTP ${xhr.status}).`));
      });
      xhr.addEventListener("error", () => reject(new Error("The upload was interrupted by a network error.")));
      xhr.addEventListener("abort", () => reject(new Paused("The upload was paused.")));
      xhr.send(body);
    });
  }

  /** The parts the store does not hold yet go up, PARALLEL_PARTS at a time; then the upload is completed. */
  async function sendParts(card, file) {
    const base = `${config.api}${card.id}/`;
    const listed = await api(`${base}parts/`);
    if (listed.status !== 200) throw new Error(messageOf(listed, "The upload could not be resumed."));
    const { part_size: partSize, part_count: count } = listed.data;
    const sizeOf = (n) => Math.min(partSize, file.size - (n - 1) * partSize);
    const etags = new Map(listed.data.parts.filter((p) => p.size === sizeOf(p.part_number)).map((p) => [p.part_number, p.etag]));
    const todo = [];
    for (let n = 1; n <= count; n += 1) if (!etags.has(n)) todo.push(n);
    let stored = [...etags.keys()].reduce((sum, n) => sum + sizeOf(n), 0);
    const loading = new Map(); // part number -> bytes sent so far
    const show = () => card.setUpload((stored + [...loading.values()].reduce((a, b) => a + b, 0)) / file.size);
    show();
    const urls = new Map();
    let signing = null;
    async function urlOf(n) {
      while (!urls.has(n)) {
        if (!signing) {
          const numbers = [n, ...todo.slice(0, SIGN_BATCH - 1)];
          signing = api(`${base}parts/`, { method: "POST", body: { part_numbers: numbers } }).finally(() => (signing = null));
          const signed = await signing;
          if (signed.status !== 200) throw new Error(messageOf(signed, "The upload could not continue."));
          for (const part of signed.data.parts) urls.set(part.part_number, part);
        } else {
          await signing;
        }
      }
      const part = urls.get(n);
      urls.delete(n);
      return part;
    }
    async function worker() {
      while (todo.length) {
        if (card.paused) throw new Paused("The upload was paused.");
        const n = todo.shift();
        const part = await urlOf(n);
        if (card.paused) throw new Paused("The upload was paused.");
        const body = file.slice((n - 1) * partSize, (n - 1) * partSize + sizeOf(n));
        try {
          etags.set(n, await put(part.url, part.headers, body, (loaded) => { loading.set(n, loaded); show(); }, card.xhrs));
        } finally {
          loading.delete(n);
        }
        stored += sizeOf(n);
        show();
      }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, todo.length) }, worker));
    const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([n, etag]) => ({ part_number: n, etag }));
    const completed = await api(`${base}complete/`, { method: "POST", body: { parts } });
    if (completed.status !== 200) throw new Error(messageOf(completed, "The upload could not be completed."));
  }

  // --- one card per media ---------------------------------------------------------

  function formatSeconds(seconds) {
    if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
    return `${Math.round(seconds / 60)} min`;
  }

  class Card {
    constructor(filename) {
      this.el = template.content.firstElementChild.cloneNode(true);
      this.el.querySelector(".name").textContent = filename;
      this.filename = filename;
      this.uploadBar = this.el.querySelector(".upload-bar");
      this.processBar = this.el.querySelector(".process-bar");
      this.stage = this.el.querySelector(".stage");
      this.preview = this.el.querySelector(".preview");
      this.error = this.el.querySelector(".error");
      this.actions = this.el.querySelector(".actions");
      this.id = null;
      this.kind = null;
      this.status = "UPLOADING";
      this.progress = 0;
      this.uploading = true;
      this.shown = false;
      this.paused = false;
      this.xhrs = new Set(); // part uploads in flight, aborted by a pause
      this.size = null;
      list.prepend(this.el);
      empty.hidden = true;
      this.render();
    }

    bind(media) {
      this.id = media.id;
      this.kind = media.kind;
      this.size = media.size;
      this.el.dataset.id = media.id;
      this.el.dataset.kind = media.kind;
      cards.set(media.id, this);
    }

    setBar(bar, fraction) {
      const percent = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
      bar.querySelector("progress").value = percent;
      bar.querySelector(".pct").textContent = `${percent}%`;
    }

    setUpload(fraction) {
      this.setBar(this.uploadBar, fraction);
      this.el.dataset.upload = String(Math.round(fraction * 100));
    }

    say(text) {
      if (this.stage.textContent !== text) this.stage.textContent = text;
    }

    render() {
      this.el.dataset.status = this.status;
      this.el.dataset.progress = String(this.progress);
      this.el.querySelector(".status").textContent = STATUS_TEXT[this.status] || this.status;
      // bars while something moves; a finished card shows its result or its error instead
      this.uploadBar.hidden = !["UPLOADING", "PROCESSING"].includes(this.status);
      this.processBar.hidden = this.status !== "PROCESSING";
      this.setBar(this.processBar, this.progress / 100);
    }

    /** A state from an event, an API answer or the list; never moves the card backwards. */
    apply(state) {
      if (FINAL.has(this.status)) return;
      if (state.status === "PENDING" && (this.uploading || this.status !== "PENDING")) return;
      let progress = Number(state.progress) || 0;
      if (this.status === "PROCESSING" && state.status === "PROCESSING") progress = Math.max(progress, this.progress);
      this.status = state.status;
      this.progress = progress;
      this.el.dataset.stage = state.stage || "";
      if (state.status !== "PENDING") this.setUpload(1);
      this.render();
      if (state.status === "PROCESSING") {
        this.error.hidden = true;
        this.actions.replaceChildren();
        let text = STAGE_TEXT[state.stage] || "Processing";
        if (state.stage === "queued" && state.queue_position) {
          text += `: position ${state.queue_position}`;
          if (state.eta_seconds != null) text += `, about ${formatSeconds(state.eta_seconds)} to go`;
          this.el.dataset.queuePosition = String(state.queue_position);
        }
        this.say(text);
        this.playEarly(state);
      } else if (state.status === "PENDING") {
        this.say("The upload did not finish. Choose the file again to continue it.");
      } else if (state.status === "READY") {
        this.say("Ready");
        this.showResult(state);
      } else {
        this.say(STATUS_TEXT[state.status] || state.status);
        this.fail((state.error && state.error.message) || "Processing did not succeed.", state.status === "FAILED");
      }
    }

    /** Pause and resume buttons while a multipart upload runs; a pause aborts the parts in flight. */
    offerPause(resume) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pause";
      button.textContent = "Pause";
      button.addEventListener("click", () => {
        if (!this.paused) {
          this.paused = true;
          for (const xhr of this.xhrs) xhr.abort();
          button.textContent = "Resume";
          this.el.dataset.paused = "true";
          this.say("Paused");
        } else {
          this.paused = false;
          button.textContent = "Pause";
          delete this.el.dataset.paused;
          this.say("Uploading");
          resume();
        }
      });
      this.actions.replaceChildren(button);
    }

    fail(message, canRetry = false) {
      this.uploading = false;
      if (!["REJECTED", "FAILED", "EXPIRED"].includes(this.status)) {
        this.status = "ERROR"; // the page's own failure (refused, network): nothing more will come
        this.render();
      }
      this.error.textContent = message;
      this.error.hidden = false;
      this.actions.replaceChildren();
      if (canRetry && this.id) {
        const retry = document.createElement("button");
        retry.type = "button";
        retry.textContent = "Retry";
        retry.addEventListener("click", async () => {
          retry.disabled = true;
          const answer = await api(`${config.api}${this.id}/retry/`, { method: "POST" });
          if (answer.status === 202) this.apply(answer.data);
          else this.fail(messageOf(answer, "The retry was refused."), false);
        });
        this.actions.append(retry);
      }
    }

    async refresh() {
      if (!this.id) return;
      const answer = await api(`${config.api}${this.id}/`);
      if (answer.status === 200) this.apply(answer.data);
      else if (answer.status === 404) this.fail("This file was deleted.");
    }

    /** A video plays once its first segments are out, while the rest of the ladder is made; a run that
     * stopped half-way withdraws it (playable false) and the player goes until the next run publishes. */
    playEarly(state) {
      if (this.kind !== "video") return;
      const url = state.hls_url || (state.urls && state.urls.hls);
      if (state.playable && url && !this.player) {
        this.player = new Player(this.filename);
        this.player.load(url, false);
        const figure = document.createElement("figure");
        figure.append(this.player.video);
        this.preview.replaceChildren(figure);
        this.el.dataset.playable = "early";
      } else if (state.playable === false && this.player) {
        this.player.destroy();
        this.player = null;
        this.preview.replaceChildren();
        delete this.el.dataset.playable;
      }
    }

    async showResult(state) {
      if (this.shown) return;
      this.shown = true;
      let media = state;
      if (!state.urls) {
        const answer = await api(`${config.api}${this.id}/`);
        if (answer.status !== 200) {
          this.shown = false;
          return;
        }
        media = answer.data;
      }
      const urls = media.urls || {};
      const name = this.filename;
      const figure = document.createElement("figure");
      if (media.kind === "video" && urls.hls) {
        // the player of the early playback, if any, carries on: the finished master adds the subtitles
        this.player = this.player || new Player(name);
        if (urls.thumbnail) this.player.video.poster = urls.thumbnail;
        this.player.load(urls.hls, true);
        figure.append(this.player.video, this.player.scrub);
        if (urls.storyboard) this.player.storyboard(urls.storyboard, (media.metadata || {}).duration);
      } else if (urls.thumbnail) {
        const link = document.createElement("a");
        link.href = urls.optimized || urls.original || urls.thumbnail;
        link.target = "_blank";
        link.rel = "noopener";
        const img = document.createElement("img");
        img.className = "thumbnail";
        img.src = urls.thumbnail;
        img.alt = `Thumbnail of ${name}`;
        img.width = 150;
        img.height = 150;
        link.append(img);
        figure.append(link);
        if (urls.sources && urls.sources.length) figure.append(responsivePicture(media, name));
        if (urls.optimized) {
          const caption = document.createElement("figcaption");
          const open = document.createElement("a");
          open.href = urls.optimized;
          open.target = "_blank";
          open.rel = "noopener";
          const size = media.metadata && media.metadata.width ? ` (${media.metadata.width}×${media.metadata.height})` : "";
          open.textContent = `Optimized image${size}`;
          caption.append(open);
          figure.append(caption);
        }
      } else if (media.kind === "audio" && urls.original) {
        const audio = document.createElement("audio");
        audio.controls = true;
        audio.preload = "none";
        audio.src = urls.original;
        audio.setAttribute("aria-label", `Audio: ${name}`);
        if (urls.waveform) figure.append(waveform(urls.waveform, audio, name));
        figure.append(audio);
      } else if (urls.preview) {
        const link = document.createElement("a");
        link.href = urls.original || urls.preview;
        link.target = "_blank";
        link.rel = "noopener";
        const img = document.createElement("img");
        img.className = "document-preview";
        img.src = urls.preview;
        img.alt = `First page of ${name}`;
        link.append(img);
        figure.append(link);
      }
      // any other declared output (the server's media/outputs.py) is offered as a link under its name
      const shown = new Set([
        "original", "thumbnail", "optimized", "hls", "sources", "subtitles", "storyboard", "waveform",
        "waveform_image", "preview",
      ]);
      for (const [output, url] of Object.entries(urls)) {
        if (shown.has(output) || !url) continue;
        const link = document.createElement("a");
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener";
        link.className = "output";
        link.textContent = output;
        figure.append(link);
      }
      if (urls.original && media.kind !== "image") {
        const download = document.createElement("a");
        download.href = urls.original;
        download.textContent = "Download the original";
        figure.append(download);
      }
      this.preview.replaceChildren(figure);
    }
  }

  // The responsive widths (urls.sources, AVIF first): the browser takes the first type it can decode, at
// the width the layout needs; the optimized WebP is the fallback for browsers without <picture>.
function responsivePicture(media, name) {
  const sources = media.urls.sources;
  const picture = document.createElement("picture");
  picture.className = "responsive";
  for (const type of new Set(sources.map((s) => s.type))) {
    const source = document.createElement("source");
    source.type = type;
    source.srcset = sources.filter((s) => s.type === type).map((s) => `${s.url} ${s.width}w`).join(", ");
    source.sizes = "(max-width: 40rem) 90vw, 20rem";
    picture.append(source);
  }
  const img = document.createElement("img");
  const largest = sources[sources.length - 1];
  img.src = media.urls.optimized || largest.url;
  img.width = largest.width;  // the aspect ratio, so the page does not jump when it loads
  img.height = largest.height;
  img.alt = name;
  picture.append(img);
  return picture;
}

function playHls(video, url, startPosition = -1) {
    const say = (text) => video.after(Object.assign(document.createElement("p"), { className: "player-error", textContent: text }));
    if (window.Hls && window.Hls.isSupported()) {
      // the full hls.js build: it turns the master's SUBTITLES group into the video's text tracks
      const hls = new window.Hls({ startPosition });
      hls.on(window.Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) say("The video could not be played.");
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      return hls;
    }
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url; // Safari plays HLS itself
    } else {
      say("This browser cannot play HLS video.");
    }
    return null;
  }

  /** A video with HLS, and a seek bar that shows the storyboard's thumbnail of the time under the pointer. */
  class Player {
    constructor(name) {
      this.video = document.createElement("video");
      this.video.controls = true;
      this.video.playsInline = true;
      this.video.preload = "metadata";
      this.video.setAttribute("aria-label", `Video: ${name}`);
      this.scrub = document.createElement("div");
      this.scrub.className = "scrub";
      this.scrub.hidden = true;
      this.hls = null;
      this.loaded = false;
      this.final = false;
    }

    /** The early (growing) playlist once; the finished one (`final`, READY) once, from where the viewer is. */
    load(url, final) {
      if (this.loaded && (!final || this.final)) return;
      const at = this.loaded ? this.video.currentTime : -1;
      const playing = this.loaded && !this.video.paused;
      if (this.hls) this.hls.destroy();
      this.hls = playHls(this.video, url, at);
      this.loaded = true;
      this.final = final;
      if (playing) this.video.play().catch(() => {});
    }

    destroy() {
      if (this.hls) this.hls.destroy();
      this.video.remove();
      this.scrub.remove();
    }

    async storyboard(url, duration) {
      if (this.scrub.childElementCount || !duration) return;
      const answer = await fetch(url);
      if (!answer.ok) return;
      const cues = parseStoryboard(await answer.text());
      if (!cues.length) return;
      const seek = Object.assign(document.createElement("input"), { type: "range", min: 0, max: duration, step: "any", value: 0 });
      seek.setAttribute("aria-label", "Seek");
      const tip = Object.assign(document.createElement("div"), { className: "storyboard-tip", hidden: true });
      tip.setAttribute("aria-hidden", "true");
      const time = document.createElement("span");
      tip.append(time);
      const show = (fraction) => {
        const at = Math.min(duration, Math.max(0, fraction * duration));
        const cue = cues.find((c) => at >= c.start && at < c.end) || cues[cues.length - 1];
        Object.assign(tip.style, {
          width: `${cue.w}px`,
          height: `${cue.h}px`,
          backgroundImage: `url("${cue.url}")`,
          backgroundPosition: `-${cue.x}px -${cue.y}px`,
          left: `${Math.min(seek.clientWidth - cue.w, Math.max(0, fraction * seek.clientWidth - cue.w / 2))}px`,
        });
        tip.dataset.xywh = `${cue.x},${cue.y},${cue.w},${cue.h}`;
        tip.dataset.time = at.toFixed(2);
        time.textContent = formatClock(at);
        tip.hidden = false;
      };
      const fractionAt = (event) => {
        const box = seek.getBoundingClientRect();
        return (event.clientX - box.left) / box.width;
      };
      seek.addEventListener("pointermove", (event) => show(fractionAt(event)));
      seek.addEventListener("pointerleave", () => { tip.hidden = true; });
      seek.addEventListener("input", () => {
        show(Number(seek.value) / duration);
        this.video.currentTime = Number(seek.value);
      });
      this.video.addEventListener("timeupdate", () => {
        if (document.activeElement !== seek) seek.value = this.video.currentTime;
      });
      this.scrub.append(tip, seek);
      this.scrub.hidden = false;
    }
  }

  function formatClock(seconds) {
    const whole = Math.floor(seconds);
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  }

  function vttSeconds(text) {
    const parts = text.split(":").map(Number);
    return parts.reduce((total, part) => total * 60 + part, 0);
  }

  /** The cues of a storyboard WebVTT: [{start, end, url, x, y, w, h}] from `<sprite url>#xywh=x,y,w,h`. */
  function parseStoryboard(text) {
    const cue = /([\d:.]+) --> ([\d:.]+)[^\n]*\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
    return [...text.matchAll(cue)].map((m) => ({
      start: vttSeconds(m[1]),
      end: vttSeconds(m[2]),
      url: m[3],
      x: Number(m[4]),
      y: Number(m[5]),
      w: Number(m[6]),
      h: Number(m[7]),
    }));
  }

  /** The audio's waveform drawn from its peaks (audiowaveform's JSON: a min, max pair per point); a click
   * plays from there. */
  function waveform(url, audio, name) {
    const canvas = Object.assign(document.createElement("canvas"), { className: "waveform", width: 600, height: 80 });
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Waveform of ${name}`);
    fetch(url)
      .then((answer) => (answer.ok ? answer.json() : Promise.reject(answer.status)))
      .then((peaks) => {
        const context = canvas.getContext("2d");
        const points = peaks.data.length / 2;
        // scaled to the loudest peak, as peaks.js and wavesurfer.js normalise: a quiet file still shows its shape
        const full = Math.max(1, ...peaks.data.map(Math.abs));
        const middle = canvas.height / 2;
        context.fillStyle = "#0b57d0";
        for (let x = 0; x < canvas.width; x += 1) {
          const i = Math.floor((x * points) / canvas.width);
          const top = middle - (peaks.data[2 * i + 1] / full) * middle;
          const bottom = middle - (peaks.data[2 * i] / full) * middle;
          context.fillRect(x, top, 1, Math.max(1, bottom - top));
        }
        canvas.dataset.points = String(points);
      })
      .catch(() => { canvas.dataset.failed = "true"; });
    canvas.addEventListener("click", (event) => {
      const box = canvas.getBoundingClientRect();
      if (audio.duration) audio.currentTime = ((event.clientX - box.left) / box.width) * audio.duration;
    });
    return canvas;
  }

  function adopt(media) {
    const known = cards.get(media.id);
    if (known) {
      known.apply(media);
      return known;
    }
    const card = new Card(media.filename);
    card.uploading = false;
    card.status = media.status === "PENDING" ? "PENDING" : "UPLOADING";
    card.bind(media);
    card.apply(media);
    return card;
  }

  // --- uploads ----------------------------------------------------------------------

  function contentTypeOf(file) {
    if (file.type) return file.type;
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    return TYPE_BY_EXTENSION[extension] || "application/octet-stream";
  }

  /** Send the file with the media's upload: one PUT, or the parts of a multipart upload. */
  async function transfer(file, card, upload) {
    card.uploading = true;
    card.say("Uploading");
    if (upload.method !== "MULTIPART") {
      await put(upload.url, upload.headers, file, (loaded) => card.setUpload(loaded / file.size));
      return finish(card);
    }
    const run = () =>
      sendParts(card, file).then(
        () => {
          card.actions.replaceChildren();
          return finish(card);
        },
        (error) => {
          if (!(error instanceof Paused)) throw error;
        },
      );
    card.offerPause(() => run().catch((error) => card.fail(error.message)));
    return run();
  }

  async function uploadOne(file, card) {
    card.say("Starting the upload");
    const created = await api(config.api, {
      method: "POST",
      body: { filename: file.name, content_type: contentTypeOf(file), size: file.size },
    });
    if (created.status !== 201) {
      card.fail(messageOf(created, "The upload could not start."));
      return;
    }
    card.bind(created.data);
    await transfer(file, card, created.data.upload);
  }

  /** The same file chosen again for a PENDING media (after a reload): continue its multipart upload
   * from the parts already stored, or start a fresh upload of it. */
  async function resumeOne(file, card) {
    card.status = "UPLOADING";
    card.render();
    card.say("Looking for the parts already uploaded");
    const listed = await api(`${config.api}${card.id}/parts/`);
    if (listed.status === 200) return transfer(file, card, { method: "MULTIPART" });
    const fresh = await api(`${config.api}${card.id}/upload/`, { method: "POST", body: {} });
    if (fresh.status !== 200) {
      card.fail(messageOf(fresh, "The upload could not start again."));
      return;
    }
    return transfer(file, card, fresh.data.upload);
  }

  async function finish(card) {
    card.setUpload(1);
    card.say("Upload complete, confirming");
    const confirmed = await api(`${config.api}${card.id}/confirm/`, { method: "POST" });
    card.uploading = false;
    if (confirmed.data && confirmed.data.id && [200, 202, 422, 503].includes(confirmed.status)) {
      card.apply(confirmed.data);
      if (confirmed.status === 503) card.say(messageOf(confirmed, "Waiting for a service; it will continue on its own."));
    } else {
      card.fail(messageOf(confirmed, "The upload could not be confirmed."));
    }
  }

  const waiting = [];
  let running = 0;

  function pump() {
    while (running < PARALLEL_UPLOADS && waiting.length) {
      const { file, card } = waiting.shift();
      running += 1;
      (card.id ? resumeOne(file, card) : uploadOne(file, card))
        .catch((error) => card.fail(error.message))
        .finally(() => {
          running -= 1;
          pump();
        });
    }
  }

  function uploadAll(files) {
    for (const file of files) {
      const unfinished = [...cards.values()].find(
        (c) => c.status === "PENDING" && !c.uploading && c.filename === file.name && c.size === file.size,
      );
      const card = unfinished || new Card(file.name);
      card.uploading = true;
      card.say("Waiting to upload");
      waiting.push({ file, card });
    }
    pump();
  }

  input.addEventListener("change", () => {
    uploadAll(Array.from(input.files));
    input.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("over");
    });
  }
  for (const type of ["dragleave", "dragend"]) dropzone.addEventListener(type, () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length) uploadAll(Array.from(event.dataTransfer.files));
  });

  // --- live progress ----------------------------------------------------------------

  let socket = null;
  let attempts = 0;
  let timer = null;

  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
  }

  function connect() {
    clearTimeout(timer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${config.ws}`);
    socket = ws;
    setConnection("connecting", "Connecting for live progress…");
    ws.addEventListener("open", () => {
      attempts = 0;
      setConnection("live", "Live progress on.");
      ws.send(JSON.stringify({ action: "sync" }));
    });
    ws.addEventListener("message", (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      onEvent(data);
    });
    ws.addEventListener("close", (event) => {
      if (socket === ws) socket = null;
      if (event.code === 4401) {
        setConnection("signed-out", "Your session has ended; log in again to see live progress.");
        return;
      }
      // Exponential backoff with jitter, so a restarted server is not hit by every page at once.
      const delay = Math.min(30000, 500 * 2 ** attempts) * (0.5 + Math.random() / 2);
      attempts += 1;
      setConnection("offline", `Live progress lost; reconnecting in ${Math.ceil(delay / 1000)} s.`);
      timer = setTimeout(connect, delay);
    });
  }

  function onEvent(data) {
    if (data.event === "sync:done") {
      const listed = new Set(data.ids);
      for (const card of cards.values()) {
        if (!card.uploading && ["PENDING", "PROCESSING"].includes(card.status) && !listed.has(card.id)) card.refresh();
      }
      return;
    }
    if (typeof data.event !== "string" || !data.event.startsWith("progress:")) return;
    const card = cards.get(data.id);
    if (card) {
      card.apply(data);
    } else {
      // uploaded elsewhere (another tab), or this page's own upload still waiting for its id
      setTimeout(() => {
        if (!cards.has(data.id)) api(`${config.api}${data.id}/`).then((a) => a.status === 200 && adopt(a.data));
      }, 500);
    }
  }

  window.addEventListener("online", () => {
    if (!socket) connect();
  });

  async function start() {
    const answer = await api(`${config.api}?page_size=${config.pageSize}`);
    if (answer.status === 200) {
      for (const media of answer.data.results.slice().reverse()) adopt(media);
    } else {
      setConnection("error", messageOf(answer, "Your media could not be listed."));
    }
    connect();
  }

  // A small handle for people and tests poking at the page from the console.
  window.mediahub = {
    get socket() {
      return socket;
    },
    cards,
  };

  start();
})();
