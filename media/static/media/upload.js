/*
 * The upload page: files go straight to S3 with a presigned PUT (progress from XHR), then the page
 * follows their processing over the WebSocket. Plain JavaScript, no build step.
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

  /** PUT the file to the presigned URL with exactly the headers it was signed with. */
  function put(upload, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(upload.method || "PUT", upload.url);
      for (const [name, value] of Object.entries(upload.headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error(`The storage refused the upload (HTTP ${xhr.status}).`));
      });
      xhr.addEventListener("error", () => reject(new Error("The upload was interrupted by a network error.")));
      xhr.addEventListener("abort", () => reject(new Error("The upload was cancelled.")));
      xhr.send(file);
    });
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
      list.prepend(this.el);
      empty.hidden = true;
      this.render();
    }

    bind(media) {
      this.id = media.id;
      this.kind = media.kind;
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
      } else if (state.status === "PENDING") {
        this.say("The upload did not finish. Choose the file again to upload it.");
      } else if (state.status === "READY") {
        this.say("Ready");
        this.showResult(state);
      } else {
        this.say(STATUS_TEXT[state.status] || state.status);
        this.fail((state.error && state.error.message) || "Processing did not succeed.", state.status === "FAILED");
      }
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
        const video = document.createElement("video");
        video.controls = true;
        video.playsInline = true;
        video.preload = "metadata";
        if (urls.thumbnail) video.poster = urls.thumbnail;
        video.setAttribute("aria-label", `Video: ${name}`);
        figure.append(video);
        playHls(video, urls.hls, figure);
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
        figure.append(audio);
      }
      // any other declared output (the server's media/outputs.py) is offered as a link under its name
      const shown = new Set(["original", "thumbnail", "optimized", "hls", "sources"]);
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

function playHls(video, url, figure) {
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls();
      hls.on(window.Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) figure.append(Object.assign(document.createElement("p"), { textContent: "The video could not be played." }));
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url; // Safari plays HLS itself
    } else {
      figure.append(Object.assign(document.createElement("p"), { textContent: "This browser cannot play HLS video." }));
    }
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
    card.say("Uploading");
    await put(created.data.upload, file, (fraction) => card.setUpload(fraction));
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
      uploadOne(file, card)
        .catch((error) => card.fail(error.message))
        .finally(() => {
          running -= 1;
          pump();
        });
    }
  }

  function uploadAll(files) {
    for (const file of files) {
      const card = new Card(file.name);
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
