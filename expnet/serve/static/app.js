// expnet serve: the page's own script (no libraries). Photos go to POST /api/predict, videos to
// POST /api/jobs (polled for progress), webcam frames over the WebSocket /api/live.
"use strict";

const $ = (id) => document.getElementById(id);
const COLOURS = ["#2f6fdd", "#e4572e", "#17a398", "#f3a712", "#8e44ad", "#3a3a3a", "#d81b60", "#43a047",
                 "#6d4c41", "#00acc1"];
let topology = null;  // the wireframe's triangles, fetched once

async function getTopology() {
  if (!topology) topology = await (await fetch("/api/topology")).json();
  return topology;
}

async function errorText(response) {
  try { return (await response.json()).error || response.statusText; } catch (e) { return response.statusText; }
}

// -- drawing -----------------------------------------------------------------------------------
function drawFace(ctx, face, draw, colour, scale = 1) {
  ctx.save();
  ctx.scale(scale, scale);
  ctx.lineWidth = 1 / scale;
  if (draw && draw.wireframe && topology) {
    const v = draw.wireframe;
    ctx.strokeStyle = "rgba(80, 220, 255, 0.55)";
    ctx.beginPath();
    for (const [a, b, c] of topology.triangles) {
      ctx.moveTo(v[a][0], v[a][1]); ctx.lineTo(v[b][0], v[b][1]); ctx.lineTo(v[c][0], v[c][1]); ctx.closePath();
    }
    ctx.stroke();
  }
  if (draw && draw.landmarks) {
    ctx.fillStyle = "#ffd400";
    for (const [x, y] of draw.landmarks) { ctx.beginPath(); ctx.arc(x, y, 1.8 / scale, 0, 2 * Math.PI); ctx.fill(); }
  }
  if (face && face.box) {
    const [x0, y0, x1, y1] = face.box;
    ctx.strokeStyle = colour; ctx.lineWidth = 2 / scale;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
  ctx.restore();
}

function svg(tag, attrs, parent) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

// A bar chart of the whitened expression coefficients (-3..3 prior std).
function barChart(values) {
  const w = 300, h = 120, mid = h / 2, bw = w / values.length;
  const chart = svg("svg", { width: w, height: h + 14, class: "chart", viewBox: `0 0 ${w} ${h + 14}` });
  svg("line", { x1: 0, x2: w, y1: mid, y2: mid, stroke: "#999" }, chart);
  values.forEach((v, i) => {
    const y = Math.max(-3, Math.min(3, v)) / 3 * (h / 2);
    svg("rect", { x: i * bw + 3, width: bw - 6, y: y > 0 ? mid - y : mid, height: Math.abs(y),
                  fill: COLOURS[i % COLOURS.length] }, chart);
    svg("text", { x: i * bw + bw / 2 - 3, y: h + 12 }, chart).textContent = String(i);
  });
  return chart;
}

// Line charts of per-track series: expression components and the three angles against time.
function seriesChart(series, key, title) {
  const w = 420, h = 130, pad = 26;
  const chart = svg("svg", { width: w, height: h, class: "series", viewBox: `0 0 ${w} ${h}` });
  svg("text", { x: pad, y: 11 }, chart).textContent = title;
  const t = series.time;
  if (!t.length) return chart;
  const lines = key === "expression" ? series.expression[0].map((_, j) => series.expression.map((e) => e[j]))
                                     : ["yaw", "pitch", "roll"].map((a) => series[a]);
  const all = lines.flat();
  const lo = Math.min(...all), hi = Math.max(...all), t0 = t[0], t1 = t[t.length - 1] || 1;
  const x = (v) => pad + (w - pad - 6) * (v - t0) / Math.max(t1 - t0, 1e-6);
  const y = (v) => h - 16 - (h - 32) * (v - lo) / Math.max(hi - lo, 1e-6);
  lines.forEach((values, j) => {
    const d = values.map((v, i) => `${i ? "L" : "M"}${x(t[i]).toFixed(1)},${y(v).toFixed(1)}`).join("");
    svg("path", { d, fill: "none", stroke: COLOURS[j % COLOURS.length], "stroke-width": 1.2 }, chart);
  });
  svg("text", { x: 2, y: y(hi) + 4 }, chart).textContent = hi.toFixed(1);
  svg("text", { x: 2, y: y(lo) + 4 }, chart).textContent = lo.toFixed(1);
  svg("text", { x: w - 40, y: h - 2 }, chart).textContent = `${t1.toFixed(1)} s`;
  return chart;
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = name; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function anglesText(p) {
  return `yaw ${p.yaw.toFixed(1)}°, pitch ${p.pitch.toFixed(1)}°, roll ${p.roll.toFixed(1)}°`;
}

// -- photo -------------------------------------------------------------------------------------
async function predictPhoto(file) {
  const status = $("photo-status");
  status.textContent = "working...";
  await getTopology();
  const form = new FormData();
  form.append("file", file);
  form.append("one_crop", $("photo-one-crop").checked ? "true" : "false");
  form.append("detector", $("photo-detector").value);
  const t0 = performance.now();
  const response = await fetch("/api/predict", { method: "POST", body: form });
  if (!response.ok) { status.textContent = `error ${response.status}: ${await errorText(response)}`; return; }
  const row = await response.json();
  let image = null;
  try { image = await createImageBitmap(file); } catch (e) { image = null; }  // e.g. PPM, TIFF: not for browsers
  const width = image ? image.width : row.width, height = image ? image.height : row.height;
  const canvas = $("photo-canvas");
  const scale = Math.min(900 / width, Math.max(1, 480 / width));  // small photos drawn larger
  canvas.width = Math.round(width * scale); canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  if (image) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  else {
    ctx.fillStyle = "#333"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#ccc"; ctx.fillText("(this browser cannot show the image's format)", 10, 20);
  }
  row.faces.forEach((f, i) => drawFace(ctx, f, row.draw[i], COLOURS[i % COLOURS.length], scale));
  status.textContent = `${row.faces.length} face(s) in ${(performance.now() - t0).toFixed(0)} ms` +
                       (row.error ? ` (${row.error})` : "");
  const panel = $("photo-faces");
  panel.replaceChildren();
  const { draw, ...plain } = row;  // the row as expnet predict writes it
  row.faces.forEach((f, i) => panel.appendChild(facePanel(f, i, plain, canvas)));
  canvas.dataset.faces = String(row.faces.length);
}

function facePanel(face, i, row, canvas) {
  const div = document.createElement("div");
  div.className = "face";
  div.innerHTML = `<h3 style="color:${COLOURS[i % COLOURS.length]}">face ${i}</h3>
    <div class="angles">${anglesText(face.pose)}</div><div class="row"></div><div class="downloads"></div>`;
  const chart = barChart(face.expression_normalized);
  chart.id = `chart-${i}`;
  div.querySelector(".row").appendChild(chart);
  const img = document.createElement("img");
  img.alt = "frontal render";
  div.querySelector(".row").appendChild(img);
  const body = JSON.stringify({ shape: face.shape, expression: face.expression });
  fetch("/api/frontal", { method: "POST", body, headers: { "content-type": "application/json" } })
    .then((r) => r.ok ? r.blob() : null).then((b) => { if (b) img.src = URL.createObjectURL(b); });
  const links = div.querySelector(".downloads");
  const button = (text, fn) => { const b = document.createElement("button"); b.textContent = text; b.onclick = fn;
                                 links.appendChild(b); };
  button("row (JSON)", () => download("row.json", new Blob([JSON.stringify(row, null, 1)],
                                                           { type: "application/json" })));
  button("mesh (OBJ)", async () => {
    const r = await fetch("/api/mesh", { method: "POST", body, headers: { "content-type": "application/json" } });
    download(`face${i}.obj`, await r.blob());
  });
  button("overlay (PNG)", () => canvas.toBlob((b) => download("overlay.png", b), "image/png"));
  return div;
}

// -- video -------------------------------------------------------------------------------------
async function uploadVideo(file) {
  const status = $("video-status"), bar = $("video-progress");
  await getTopology();
  const form = new FormData();
  form.append("file", file);
  const response = await fetch("/api/jobs", { method: "POST", body: form });
  if (!response.ok) { status.textContent = `error ${response.status}: ${await errorText(response)}`; return; }
  let job = await response.json();
  while (job.status === "queued" || job.status === "running") {
    bar.max = Math.max(job.frames_total, 1); bar.value = job.frames_done;
    status.textContent = `${job.status}: ${job.frames_done} / ${job.frames_total || "?"} frames` +
                         (job.frames_per_second ? ` (${job.frames_per_second} frames/s)` : "");
    await new Promise((r) => setTimeout(r, 400));
    job = await (await fetch(`/api/jobs/${job.id}`)).json();
  }
  if (job.status !== "done") { status.textContent = `failed: ${job.error}`; return; }
  bar.max = 1; bar.value = 1;
  status.textContent = `done: ${job.frames_done} frames`;
  showVideo(file, job, await (await fetch(`/api/jobs/${job.id}/frames`)).json());
}

function showVideo(file, job, data) {
  const player = $("video-player"), canvas = $("video-canvas");
  player.src = URL.createObjectURL(file);  // the original clip, played by the browser: no re-encoding
  const times = data.frames.map((f) => f.time);
  const paint = () => {
    const w = player.clientWidth, h = player.clientHeight;
    if (!w || !data.width) return;
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    let k = 0;  // the processed frame nearest the playing time
    while (k + 1 < times.length && times[k + 1] <= player.currentTime + 1e-3) k++;
    const frame = data.frames[k];
    if (!frame) return;
    frame.faces.forEach((f) => drawFace(ctx, f, { landmarks: f.landmarks }, COLOURS[(f.track || 0) % COLOURS.length],
                                        w / data.width));
  };
  const loop = () => { paint(); if (!player.paused && !player.ended) requestAnimationFrame(loop); };
  player.onplay = loop; player.onseeked = paint; player.onloadeddata = paint;
  player.onerror = () => { $("video-status").textContent += " (this browser cannot play the clip's format: " +
                                                         "its series and rows are below)"; };
  const box = $("video-series");
  box.replaceChildren();
  for (const [track, series] of Object.entries(data.series)) {
    const h = document.createElement("h3");
    h.textContent = `track ${track} (smoothed)`;
    box.append(h, seriesChart(series, "expression", "expression (whitened)"),
               seriesChart(series, "angles", "yaw, pitch, roll (degrees)"));
  }
  box.dataset.tracks = String(Object.keys(data.series).length);
  const links = $("video-downloads");
  links.replaceChildren();
  for (const [kind, url] of Object.entries(job.outputs)) {
    const a = document.createElement("a");
    a.href = url; a.textContent = `rows (${kind})`; a.download = "";
    links.appendChild(a);
  }
}

// -- live --------------------------------------------------------------------------------------
const live = { ws: null, stream: null, inFlight: false, sentAt: 0, done: [], running: false };

async function startLive() {
  await getTopology();
  const video = $("live-video");
  live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  video.srcObject = live.stream;
  await video.play();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  live.ws = new WebSocket(`${scheme}://${location.host}/api/live`);
  live.ws.binaryType = "arraybuffer";
  live.running = true;
  $("live-start").disabled = true; $("live-stop").disabled = false;
  live.ws.onopen = () => sendFrame();
  live.ws.onmessage = (event) => {
    const result = JSON.parse(event.data);
    live.inFlight = false;
    const now = performance.now();
    live.done.push(now);
    while (live.done.length && now - live.done[0] > 2000) live.done.shift();
    $("live-fps").textContent = (live.done.length / 2).toFixed(1);
    $("live-latency").textContent = (now - live.sentAt).toFixed(0);
    $("live-dropped").textContent = String(result.dropped || 0);
    paintLive(result);
    if (live.running) sendFrame();
  };
  live.ws.onclose = () => stopLive();
}

function sendFrame() {
  // one frame in flight: the server answers each, so a slow server slows the sending instead of queueing
  const video = $("live-video");
  if (!live.running || live.inFlight || !video.videoWidth || live.ws.readyState !== WebSocket.OPEN) {
    if (live.running) setTimeout(sendFrame, 20);
    return;
  }
  const grab = document.createElement("canvas");
  grab.width = video.videoWidth; grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  live.inFlight = true;
  grab.toBlob((blob) => { live.sentAt = performance.now(); blob.arrayBuffer().then((b) => live.ws.send(b)); },
              "image/jpeg", 0.75);
}

function paintLive(result) {
  const video = $("live-video"), canvas = $("live-canvas");
  canvas.width = video.clientWidth; canvas.height = video.clientHeight;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!result.faces) return;
  const scale = canvas.width / (result.width || video.videoWidth || 1);
  result.faces.forEach((f) => drawFace(ctx, f, f, COLOURS[(f.track || 0) % COLOURS.length], scale));
  const panel = $("live-faces");
  panel.replaceChildren();
  result.faces.forEach((f) => {
    const div = document.createElement("div");
    div.className = "face";
    div.innerHTML = `<h3>track ${f.track}</h3><div class="angles">${anglesText(f)}</div>`;
    div.appendChild(barChart(f.expression));
    panel.appendChild(div);
  });
  canvas.dataset.frames = String(Number(canvas.dataset.frames || 0) + 1);
}

function stopLive() {
  live.running = false;
  if (live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.close();
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  $("live-start").disabled = false; $("live-stop").disabled = true;
}

// -- wiring ------------------------------------------------------------------------------------
document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
  document.querySelectorAll(".tab, .panel").forEach((el) => el.classList.remove("active"));
  tab.classList.add("active");
  $(tab.dataset.tab).classList.add("active");
}));
$("photo-file").addEventListener("change", (e) => e.target.files[0] && predictPhoto(e.target.files[0]));
const drop = $("photo-drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) predictPhoto(e.dataTransfer.files[0]);
});
$("video-file").addEventListener("change", (e) => e.target.files[0] && uploadVideo(e.target.files[0]));
$("live-start").addEventListener("click", () => startLive().catch((e) => { $("live-fps").textContent = String(e); }));
$("live-stop").addEventListener("click", stopLive);
