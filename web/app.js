// The page of the local web app: a drawing pad and a photo picker, both read by POST api/predict.
"use strict";

const SEND_WIDTH = 256; // drawings are sent at 256x128 px: digits some 75 px tall, plenty for 28x28
const SEND_HEIGHT = 128;
const PEN = 0.055; // pen width, as a share of the pad's height
const DEBOUNCE_MS = 150; // while drawing, ask again this long after the last move

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const strokes = []; // each stroke a list of [x, y] points in 0..1 of the pad's width and height
const answers = { draw: null, photo: null }; // the last answer of each tab
const sent = { draw: null, photo: null }; // the image each answer is for: { blob, name }
const pending = { draw: null, photo: null }; // the request in flight for each tab, to cancel
let mode = "draw";
let drawing = null; // the stroke under the pointer
let timer = null;

// --- the pad -------------------------------------------------------------------------------------

function pen(context, height) {
  context.strokeStyle = "#000"; // pure black: a clean drawing has no paper noise to tell ink by
  context.lineWidth = PEN * height;
  context.lineCap = "round";
  context.lineJoin = "round";
}

function paint(context, width, height, paper) {
  context.clearRect(0, 0, width, height);
  if (paper) {
    context.fillStyle = "#fff";
    context.fillRect(0, 0, width, height);
  }
  pen(context, height);
  for (const stroke of strokes) {
    context.beginPath();
    stroke.forEach(([x, y], index) => (index ? context.lineTo(x * width, y * height) : context.moveTo(x * width, y * height)));
    if (stroke.length === 1) context.lineTo(stroke[0][0] * width + 0.01, stroke[0][1] * height); // a dot
    context.stroke();
  }
}

function sizePad() {
  const ratio = Math.min(window.devicePixelRatio || 1, 2);
  pad.width = Math.round(pad.clientWidth * ratio);
  pad.height = Math.round(pad.clientHeight * ratio);
  paint(pad.getContext("2d"), pad.width, pad.height, false);
}

function point(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height];
}

function extend(event) {
  const context = pad.getContext("2d");
  pen(context, pad.height);
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) {
    const [x0, y0] = drawing[drawing.length - 1];
    const [x1, y1] = point(move);
    drawing.push([x1, y1]);
    context.beginPath();
    context.moveTo(x0 * pad.width, y0 * pad.height);
    context.lineTo(x1 * pad.width, y1 * pad.height);
    context.stroke();
  }
}

pad.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  pad.setPointerCapture(event.pointerId);
  drawing = [point(event)];
  strokes.push(drawing);
  paint(pad.getContext("2d"), pad.width, pad.height, false);
  event.preventDefault();
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  extend(event);
  later(DEBOUNCE_MS);
});

for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = null;
    later(0);
  });
}

function undo() {
  strokes.pop();
  paint(pad.getContext("2d"), pad.width, pad.height, false);
  later(0);
}

function clear() {
  strokes.length = 0;
  paint(pad.getContext("2d"), pad.width, pad.height, false);
  later(0);
}

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clear);
document.addEventListener("keydown", (event) => {
  if (mode === "draw" && event.key === "z" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    undo();
  }
});
window.addEventListener("resize", () => mode === "draw" && sizePad());

function later(delay) {
  clearTimeout(timer);
  timer = setTimeout(readDrawing, delay);
}

function readDrawing() {
  if (!strokes.length) {
    if (pending.draw) pending.draw.abort();
    answers.draw = null;
    sent.draw = null;
    if (mode === "draw") show(null);
    return;
  }
  const canvas = document.createElement("canvas");
  canvas.width = SEND_WIDTH;
  canvas.height = SEND_HEIGHT;
  paint(canvas.getContext("2d"), SEND_WIDTH, SEND_HEIGHT, true);
  ask(pngBlob(canvas), "drawing.png", "draw");
}

// toDataURL, not toBlob: Chromium may hold a toBlob callback back until the page is idle.
function pngBlob(canvas) {
  const bytes = atob(canvas.toDataURL("image/png").split(",")[1]);
  return new Blob([Uint8Array.from(bytes, (char) => char.charCodeAt(0))], { type: "image/png" });
}

// --- photos --------------------------------------------------------------------------------------

$("photo-input").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (!file) return;
  if (mode !== "photo") choose("photo"); // a photo given while drawing (dropped, or by a script) is shown where it is read
  const image = $("photo");
  if (image.src) URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(file);
  $("photo-view").hidden = false;
  $("boxes").replaceChildren();
  answers.photo = null;
  show(null, "Reading…");
  ask(file, file.name, "photo");
  event.target.value = ""; // the same file can be chosen again
});

function drawBoxes(answer) {
  const boxes = (answer && answer.digits) || [];
  $("boxes").replaceChildren(...boxes.map((digit) => {
    const [left, top, width, height] = digit.box;
    const [imageWidth, imageHeight] = answer.size;
    const box = element("div", digit.sure ? "box" : "box unsure");
    box.dataset.testid = "box";
    box.style.left = `${(100 * left) / imageWidth}%`;
    box.style.top = `${(100 * top) / imageHeight}%`;
    box.style.width = `${(100 * width) / imageWidth}%`;
    box.style.height = `${(100 * height) / imageHeight}%`;
    box.append(element("span", "", digit.sure ? String(digit.digit) : `${digit.digit}?`));
    return box;
  }));
}

// --- asking the server ---------------------------------------------------------------------------

async function ask(blob, name, from) {
  if (pending[from]) pending[from].abort();
  const controller = new AbortController();
  pending[from] = controller;
  const form = new FormData();
  form.append("image", blob, name);
  let answer;
  try {
    const response = await fetch("api/predict", { method: "POST", body: form, signal: controller.signal });
    answer = await response.json();
    if (response.status === 503) noModel();
  } catch (error) {
    if (error.name === "AbortError") return;
    answer = { error: "no answer from the app: is the server still running?" };
  }
  if (pending[from] !== controller) return; // a newer question was asked meanwhile
  pending[from] = null;
  answers[from] = answer;
  sent[from] = { blob, name };
  if (from === "photo") drawBoxes(answer);
  if (from === mode) show(answer);
}

// --- showing the answer: "read", "unsure" (a digit under the model's sure probability) or "no_digits" ----

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(probability) {
  return probability >= 0.001 ? `${(100 * probability).toFixed(1)} %` : "<0.1 %";
}

// What an unsure digit may be: the digit read and its runner-up, as predict's text line names them.
function candidatesOf(digit) {
  return [digit.digit, ...digit.runners_up.slice(0, 1).map((other) => other.digit)];
}

function unsureWords(digit) {
  return `not sure: ${candidatesOf(digit).join(" or ")}?`;
}

// The answer in words; with several digits, each unsure one says what it may be on its own card.
function summary(answer) {
  if (answer.status === "no_digits") return "no digits found";
  const unsure = answer.digits.filter((digit) => !digit.sure);
  if (answer.digits.length === 1) return unsure.length ? unsureWords(unsure[0]) : `${percent(answer.probability)} sure`;
  const count = `${answer.digits.length} digits`;
  return unsure.length ? `${count}, not sure of ${unsure.length} (marked ?)` : `${count}, read left to right`;
}

// The number, one span per digit (an unsure one marked), lines of writing separated by a space.
function showNumber(answer) {
  const parts = [];
  answer.digits.forEach((digit, index) => {
    if (index && digit.line !== answer.digits[index - 1].line) parts.push(" ");
    const span = element("span", digit.sure ? "" : "unsure", String(digit.digit));
    if (!digit.sure) span.title = unsureWords(digit);
    parts.push(span);
  });
  $("number").replaceChildren(...parts);
}

function bars(digit) {
  const columns = element("div", "bars");
  const labels = element("div", "bar-labels");
  digit.probabilities.forEach((probability, value) => {
    const bar = element("div", value === digit.digit ? "bar top" : "bar");
    bar.style.height = `${Math.max(2, 100 * probability)}%`;
    bar.title = `${value}: ${percent(probability)}`;
    columns.append(bar);
    labels.append(element("span", "", String(value)));
  });
  return [columns, labels];
}

function digitCard(digit, save) {
  const card = element("div", digit.sure ? "digit" : "digit unsure");
  card.dataset.testid = "digit";
  const picture = element("img");
  picture.src = digit.input;
  picture.alt = `The 28×28 image the model saw for this ${digit.digit}`;
  const words = element("div");
  const read = element("div", "read", digit.sure ? String(digit.digit) : `${digit.digit}?`);
  words.append(read, element("div", "sure", percent(digit.probability)));
  const header = element("header");
  header.append(picture, words);
  card.append(header, ...bars(digit));
  if (!digit.sure) card.append(candidateButtons(digit, save));
  return card;
}

// "not sure: 4 or 9?" and a button for each candidate, which keeps this digit as a sample of it.
function candidateButtons(digit, save) {
  const box = element("div", "candidates");
  box.dataset.testid = "candidates";
  const question = element("p", "question", unsureWords(digit));
  const buttons = element("div", "candidate-buttons");
  buttons.setAttribute("role", "group");
  buttons.setAttribute("aria-label", "Which is it? Save it as a sample of the digit");
  const note = element("p", "kept");
  note.dataset.testid = "kept";
  for (const value of candidatesOf(digit)) {
    const button = element("button", "candidate", `It is a ${value}`);
    button.type = "button";
    button.dataset.testid = `candidate-${value}`;
    button.addEventListener("click", async () => {
      note.textContent = await save(value);
      buttons.querySelectorAll("button").forEach((other) => other.setAttribute("aria-pressed", String(other === button)));
    });
    buttons.append(button);
  }
  box.append(question, buttons, note);
  return box;
}

function show(answer, waiting = "") {
  const message = $("message");
  message.classList.toggle("error", Boolean(answer && answer.error));
  if (!answer || answer.error) {
    $("number").textContent = "";
    $("digits").replaceChildren();
    message.textContent = answer ? answer.error : waiting || (mode === "draw" ? "Draw a digit above." : "Choose a photo.");
    showLabelRow(null);
    return;
  }
  showNumber(answer);
  message.textContent = summary(answer);
  const image = sent[mode];
  $("digits").replaceChildren(...answer.digits.map((digit, index) => digitCard(digit, (value) => keepDigit(answer, image, index, value))));
  showLabelRow(answer);
}

// --- keeping a labelled sample in data/own/<digit>/: "this should be a …" and the candidate buttons ---

const MARGIN = 0.25; // paper around a digit cut out of a number, as a share of its larger side

// Under one digit read, or under a drawing read as no digit at all (a digit the model took for a mark, which
// only a sample of it can teach otherwise); never under a photo of no digits, which may be anything.
function showLabelRow(answer) {
  const drawnButNotRead = mode === "draw" && strokes.length > 0 && answer && answer.status === "no_digits";
  $("label-row").hidden = !(answer && sent[mode] && (answer.digits.length === 1 || drawnButNotRead));
}

function showCounts(counts, saved) {
  const each = Object.entries(counts).map(([digit, count]) => `${digit}: ${count}`).join(" · ");
  $("samples").textContent = `${saved ? saved + " " : ""}Your samples per digit — ${each}`;
}

// POST api/samples; the words that say what became of it.
async function keep(image, digit) {
  const form = new FormData();
  form.append("image", image.blob, image.name);
  form.append("digit", String(digit));
  try {
    const result = await (await fetch("api/samples", { method: "POST", body: form })).json();
    if (result.error) {
      $("samples").textContent = result.error;
      return result.error;
    }
    const saved = result.saved ? `Kept as a ${digit}.` : `Already kept as a ${digit}.`;
    showCounts(result.counts, saved);
    return saved;
  } catch {
    $("samples").textContent = "no answer from the app: is the server still running?";
    return $("samples").textContent;
  }
}

// One digit of an answer as a sample: the whole image when it is the only digit (as the "this should be
// a" row sends it), else the digit cut out of the image with paper around it (a sample is one digit).
async function keepDigit(answer, image, index, digit) {
  if (answer.digits.length === 1) return keep(image, digit);
  return keep({ blob: await cutOut(image.blob, answer.digits[index].box), name: "digit.png" }, digit);
}

async function cutOut(blob, box) {
  const [left, top, width, height] = box;
  const margin = Math.round(MARGIN * Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = width + 2 * margin;
  canvas.height = height + 2 * margin;
  const context = canvas.getContext("2d");
  const url = URL.createObjectURL(blob);
  try {
    const picture = new Image();
    picture.src = url;
    await picture.decode();
    context.drawImage(picture, left, top, width, height, margin, margin, width, height);
  } finally {
    URL.revokeObjectURL(url);
  }
  // Only the box is copied, so no part of a neighbouring digit comes along; the margin is the paper's colour.
  context.fillStyle = paperColour(context, margin, margin, width, height);
  context.fillRect(0, 0, canvas.width, margin);
  context.fillRect(0, margin + height, canvas.width, margin);
  context.fillRect(0, margin, margin, height);
  context.fillRect(margin + width, margin, margin, height);
  return pngBlob(canvas);
}

// The median colour of a box's edge: mostly paper, since the box is drawn around the ink.
function paperColour(context, left, top, width, height) {
  const edges = [[left, top, width, 1], [left, top + height - 1, width, 1], [left, top, 1, height], [left + width - 1, top, 1, height]];
  const pixels = [];
  for (const edge of edges) {
    const { data } = context.getImageData(...edge);
    for (let at = 0; at < data.length; at += 4) pixels.push([data[at], data[at + 1], data[at + 2]]);
  }
  pixels.sort((a, b) => a[0] + a[1] + a[2] - (b[0] + b[1] + b[2]));
  const [red, green, blue] = pixels[Math.floor(pixels.length / 2)];
  return `rgb(${red} ${green} ${blue})`;
}

for (let digit = 0; digit <= 9; digit += 1) {
  const button = element("button", "label", String(digit));
  button.type = "button";
  button.dataset.testid = `label-${digit}`;
  button.title = `Keep this as a sample of ${digit}`;
  button.addEventListener("click", () => sent[mode] && keep(sent[mode], digit));
  $("label-buttons").append(button);
}

async function loadCounts() {
  try {
    showCounts((await (await fetch("api/samples")).json()).counts, "");
  } catch {
    // the counts are shown after the first sample is kept
  }
}

function noModel() {
  const notice = $("notice");
  const command = element("code", "", "make repro");
  notice.replaceChildren("No trained model yet. Run ", command, " in the project folder, then reload this page.");
  notice.hidden = false;
  $("model-status").textContent = "No model loaded";
}

// --- tabs and start ------------------------------------------------------------------------------

function choose(tab) {
  mode = tab;
  for (const name of ["draw", "photo"]) {
    $(`tab-${name}`).setAttribute("aria-selected", String(name === tab));
    $(`${name}-panel`).hidden = name !== tab;
  }
  if (tab === "draw") sizePad();
  show(answers[tab]);
}

$("tab-draw").addEventListener("click", () => choose("draw"));
$("tab-photo").addEventListener("click", () => choose("photo"));

async function checkModel() {
  try {
    const health = await (await fetch("api/health")).json();
    if (!health.model_loaded) return noModel();
    $("model-status").textContent = `Model ${health.model} · md5 ${health.md5.slice(0, 12)}`;
  } catch {
    $("model-status").textContent = "The app does not answer";
  }
}

choose("draw");
checkModel();
loadCounts();
