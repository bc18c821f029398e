// mnist-serve's page: a digit drawn on the canvas, or a photo, sent as a PNG to the server's
// own TF Serving API (predict_png, prepared as mnist-predict prepares a photo); the answer,
// every class's probability and the version that answered are shown. Nothing else is asked
// of any host: the page works offline.
"use strict";

const MODEL = document.querySelector('meta[name="model-name"]').content;
const API = `v1/models/${encodeURIComponent(MODEL)}`;
const MAX_SIDE = 1024; // a photo's long side, as mnist-predict shrinks it before its clean-up

const canvas = document.getElementById("canvas");
const pen = canvas.getContext("2d");
const SIDE = canvas.width;
const bars = document.getElementById("bars");
const status = document.getElementById("status");
const classesOf = new Map(); // version -> its schema's class names
let asked = 0; // the latest request: an older answer arriving later is not shown
let stroke = null; // the pointer drawing now, and where it was
let showingPhoto = false;

function say(text, error = false) {
  status.textContent = text;
  status.classList.toggle("error", error);
}

function blank() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, SIDE, SIDE);
  showingPhoto = false;
}

function barsFor(classes) {
  bars.replaceChildren(
    ...classes.map((name, id) => {
      const row = document.createElement("li");
      row.className = "bar";
      row.dataset.class = String(id);
      row.innerHTML = '<span class="name"></span><span class="track"><span class="fill">' +
        '</span></span><span class="value"></span>';
      row.querySelector(".name").textContent = name;
      row.querySelector(".name").title = name;
      return row;
    }),
  );
}

function reset() {
  asked += 1;
  delete document.body.dataset.version; // set again once an answer is shown
  document.getElementById("answer").textContent = "\u2013";
  document.getElementById("confidence").textContent = "";
  for (const row of bars.children) {
    delete row.dataset.probability;
    row.classList.remove("top");
    row.querySelector(".fill").style.width = "0";
    row.querySelector(".value").textContent = "";
  }
}

async function metadata(version) {
  const path = version === undefined ? API : `${API}/versions/${encodeURIComponent(version)}`;
  const response = await fetch(`${path}/metadata`);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  const served = answer.model_spec.version;
  classesOf.set(served, answer.metadata.schema.classes);
  return served;
}

function show(prediction, version, milliseconds) {
  const classes = classesOf.get(version);
  if (bars.children.length !== classes.length) barsFor(classes);
  const probabilities = prediction.probabilities;
  const top = prediction.classes;
  document.getElementById("answer").textContent = classes[top];
  document.getElementById("confidence").textContent =
    `${(100 * probabilities[top]).toFixed(1)}%`;
  probabilities.forEach((probability, id) => {
    const row = bars.children[id];
    row.dataset.probability = String(probability);
    row.classList.toggle("top", id === top);
    row.querySelector(".fill").style.width = `${100 * probability}%`;
    row.querySelector(".value").textContent = `${(100 * probability).toFixed(1)}%`;
  });
  document.getElementById("model").textContent = `Model ${MODEL}, version ${version}`;
  say(`Answered by version ${version} in ${Math.round(milliseconds)} ms.`);
  document.body.dataset.version = version;
}

async function ask(source) {
  const mine = ++asked;
  delete document.body.dataset.version;
  const url = source.toDataURL("image/png");
  const body = JSON.stringify({
    signature_name: "predict_png",
    instances: [{ b64: url.slice(url.indexOf(",") + 1) }],
  });
  const started = performance.now();
  say("Asking\u2026");
  try {
    const response = await fetch(`${API}:predict?prepare=photo`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    const answer = await response.json();
    if (mine !== asked) return;
    if (!response.ok) {
      say(answer.error || `HTTP ${response.status}`, true);
      return;
    }
    const version = response.headers.get("X-Model-Version");
    if (!classesOf.has(version)) await metadata(version);
    if (mine !== asked) return;
    show(answer.predictions[0], version, performance.now() - started);
  } catch (error) {
    if (mine === asked) say(`The server did not answer: ${error.message}`, true);
  }
}

function at(event) {
  const box = canvas.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * SIDE) / box.width,
    ((event.clientY - box.top) * SIDE) / box.height,
  ];
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  event.preventDefault();
  if (showingPhoto) blank();
  canvas.setPointerCapture(event.pointerId);
  stroke = { id: event.pointerId, last: at(event) };
  pen.beginPath();
  pen.arc(...stroke.last, pen.lineWidth / 2, 0, 2 * Math.PI);
  pen.fillStyle = "#000";
  pen.fill();
});

canvas.addEventListener("pointermove", (event) => {
  if (!stroke || event.pointerId !== stroke.id) return;
  const now = at(event);
  pen.beginPath();
  pen.moveTo(...stroke.last);
  pen.lineTo(...now);
  pen.stroke();
  stroke.last = now;
});

function lift(event) {
  if (!stroke || event.pointerId !== stroke.id) return;
  stroke = null;
  ask(canvas);
}
canvas.addEventListener("pointerup", lift);
canvas.addEventListener("pointercancel", lift);

document.getElementById("clear").addEventListener("click", () => {
  blank();
  reset();
  say("Draw a digit to ask the model.");
});

async function photo(file) {
  if (!file) return;
  let image;
  try {
    image = await createImageBitmap(file);
  } catch {
    say(`${file.name}: not an image this browser can read`, true);
    return;
  }
  // What is sent: the photo as a PNG, at most MAX_SIDE a side (mnist-predict's own limit).
  const scale = Math.min(1, MAX_SIDE / Math.max(image.width, image.height));
  const sent = document.createElement("canvas");
  sent.width = Math.max(1, Math.round(image.width * scale));
  sent.height = Math.max(1, Math.round(image.height * scale));
  const paint = sent.getContext("2d");
  paint.fillStyle = "#fff";
  paint.fillRect(0, 0, sent.width, sent.height);
  paint.drawImage(image, 0, 0, sent.width, sent.height);
  // What is shown: the photo fitted in the square.
  blank();
  const fit = Math.min(SIDE / image.width, SIDE / image.height);
  const [width, height] = [image.width * fit, image.height * fit];
  pen.drawImage(image, (SIDE - width) / 2, (SIDE - height) / 2, width, height);
  showingPhoto = true;
  image.close();
  await ask(sent);
}

const chooser = document.getElementById("photo");
chooser.addEventListener("change", () => {
  photo(chooser.files[0]);
  chooser.value = "";
});
const pad = document.getElementById("pad");
pad.addEventListener("dragover", (event) => {
  event.preventDefault();
  pad.classList.add("dropping");
});
pad.addEventListener("dragleave", () => pad.classList.remove("dropping"));
pad.addEventListener("drop", (event) => {
  event.preventDefault();
  pad.classList.remove("dropping");
  photo(event.dataTransfer.files[0]);
});

pen.lineWidth = SIDE / 14;
pen.lineCap = "round";
pen.lineJoin = "round";
pen.strokeStyle = "#000";
blank();
metadata()
  .then((version) => {
    barsFor(classesOf.get(version));
    document.getElementById("model").textContent = `Model ${MODEL}, version ${version}`;
    document.body.dataset.ready = "true";
  })
  .catch((error) => {
    say(`No version serves yet: ${error.message}`, true);
    document.body.dataset.ready = "true";
  });
