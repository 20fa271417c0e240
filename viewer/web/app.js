// efferent viewer: one websocket to the run; camera frames arrive as
// binary messages (a 4-byte length, a JSON header, the JPEG), everything
// else as JSON. Plots are drawn on <canvas> by hand. Teleop commands are
// sent while armed, 30 times a second; the run stamps them with its own
// clock and passes them through its safety gate.
'use strict';

const $ = (id) => document.getElementById(id);
const LIBERO = ['x', 'y', 'z', 'roll', 'pitch', 'yaw', 'gripper'];
const WINDOW_MS = 10000; // plotted history, controller time
const SEND_MS = 33;      // teleop command period
const KINDS = ['allowed', 'clamped', 'held', 'refused'];

const st = {
  ws: null, hello: null, token: new URLSearchParams(location.search).get('token'),
  dims: null, ticks: [], chunk: null, frames: 0, cams: new Map(),
  keys: new Set(), armed: false, gripper: -1, speed: 0.5, cmd: null, source: '-',
  mode: null, estop: false, nextID: 1, resetArmedAt: 0, lastT: 0, padPrev: [],
};

function fmt(x, d = 3) {
  return (x === null || x === undefined || Number.isNaN(x)) ? '–' : Number(x).toFixed(d);
}
function pct(x) { return (x === null || x === undefined) ? '–' : (100 * x).toFixed(1) + ' %'; }
function dimNames(d) {
  if (st.hello && st.hello.dims && st.hello.dims.length >= d) return st.hello.dims.slice(0, d);
  if (d === 7) return LIBERO;
  return Array.from({ length: d }, (_, i) => 'd' + i);
}
function showError(msg) { $('error').textContent = msg || ''; }

// ---- websocket ------------------------------------------------------------

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = proto + '//' + location.host + '/viewer/ws';
  if (st.token) url += '?token=' + encodeURIComponent(st.token);
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  st.ws = ws;
  ws.onopen = () => { setConn('connected', 'on'); };
  ws.onclose = (e) => {
    setConn('disconnected (' + e.code + ') — retrying', 'off');
    st.ws = null;
    setTimeout(connect, 1000);
  };
  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') { onFrame(e.data); return; }
    let m;
    try { m = JSON.parse(e.data); } catch (err) { showError('bad message: ' + err); return; }
    switch (m.type) {
      case 'hello': onHello(m); break;
      case 'ticks': onTicks(m); break;
      case 'chunk': st.chunk = m; break;
      case 'status': onStatus(m); break;
      case 'event': onEvent(m); break;
      case 'reply': onReply(m); break;
    }
  };
}

function setConn(text, cls) {
  const c = $('conn');
  c.textContent = text;
  c.className = 'pill ' + cls;
}

function send(msg) {
  if (st.ws && st.ws.readyState === WebSocket.OPEN) {
    st.ws.send(JSON.stringify(msg));
    return true;
  }
  return false;
}

function command(msg) {
  msg.id = st.nextID++;
  if (!send(msg)) showError('not connected: ' + msg.type + ' not sent');
}

// ---- messages -------------------------------------------------------------

function onHello(m) {
  st.hello = m;
  document.title = m.title + ' — efferent viewer';
  $('title').textContent = m.title;
  $('auth').textContent = m.auth;
  const list = $('instr-list');
  list.replaceChildren(...(m.instructions || []).map((s) => { const o = document.createElement('option'); o.value = s; return o; }));
  const c = m.controls;
  for (const id of ['btn-takeover', 'btn-policy', 'teleop-armed']) $(id).disabled = !c.teleop;
  for (const id of ['btn-estop', 'btn-reset']) $(id).disabled = !c.estop;
  $('instr-input').disabled = $('btn-instr').disabled = !c.instruction;
  if (!c.teleop) $('mode').textContent = 'no robot';
}

function onFrame(buf) {
  const dv = new DataView(buf);
  const n = dv.getUint32(0);
  const hdr = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  let cam = st.cams.get(hdr.camera);
  if (!cam) {
    const fig = document.createElement('figure');
    const img = document.createElement('img');
    img.alt = hdr.camera;
    img.id = 'cam-' + st.cams.size;
    const cap = document.createElement('figcaption');
    fig.append(img, cap);
    $('cameras').append(fig);
    cam = { img, cap, url: null, n: 0, times: [] };
    st.cams.set(hdr.camera, cam);
  }
  const url = URL.createObjectURL(new Blob([new Uint8Array(buf, 4 + n)], { type: 'image/jpeg' }));
  const old = cam.url;
  cam.url = url;
  cam.img.onload = () => { if (old) URL.revokeObjectURL(old); };
  cam.img.src = url;
  cam.n++;
  const now = performance.now();
  cam.times.push(now);
  while (cam.times.length && now - cam.times[0] > 2000) cam.times.shift();
  const fps = cam.times.length > 1 ? (cam.times.length - 1) / ((now - cam.times[0]) / 1000) : 0;
  cam.cap.textContent = hdr.camera + ' · ' + hdr.w + '×' + hdr.h + ' · ' + fps.toFixed(1) + ' fps · #' + cam.n;
  st.frames++;
  $('frame-count').textContent = String(st.frames);
}

function onTicks(m) {
  const n = m.t.length;
  if (n && m.t[0] < st.lastT - 1) st.ticks = []; // a new episode's clock (virtual time restarts)
  for (let i = 0; i < n; i++) st.ticks.push({ t: m.t[i], hold: m.hold[i] === 1, kind: m.kind[i], v: m.v[i] });
  if (n) st.lastT = m.t[n - 1];
  const cut = st.lastT - WINDOW_MS;
  let drop = 0;
  while (drop < st.ticks.length && st.ticks[drop].t < cut) drop++;
  if (drop) st.ticks.splice(0, drop);
  if (!st.dims && n) st.dims = m.v[n - 1].length;
  const list = $('verdicts');
  for (const c of m.changes) {
    const li = document.createElement('li');
    li.className = 'v-' + c.kind;
    li.textContent = new Date(c.t).toISOString().slice(11, 23) + '  ' + c.kind + (c.reason ? ' ' + c.reason : '') + (c.dim >= 0 ? ' dim ' + c.dim : '');
    list.prepend(li);
  }
  while (list.children.length > 50) list.lastChild.remove();
}

function onStatus(m) {
  $('rate').textContent = fmt(m.rate_hz, 1) + ' Hz';
  $('infer').textContent = fmt(m.infer_ms.p50, 2) + ' / ' + fmt(m.infer_ms.last, 2) + ' / ' + fmt(m.infer_ms.max, 2) + ' ms';
  $('inferences').textContent = m.inferences;
  $('ticks').textContent = m.ticks;
  const v = m.verdicts;
  $('verdict-counts').textContent = v.allowed + ' / ' + v.clamped + ' / ' + v.held + ' / ' + v.refused;
  $('cam-fps').textContent = m.cameras.map((c) => c.name.replace('observation/', '') + ' ' + fmt(c.fps, 1) + ' fps').join(', ') || '–';
  const d = m.drops;
  $('drops').textContent = d.ticks + ' / ' + d.frames + ' / ' + d.chunks + ' / ' + d.events;
  const me = m.clients.find((c) => st.hello && c.id === st.hello.client);
  $('client-drops').textContent = me ? me.sent + ' / ' + me.dropped + ' (frames ' + me.frames_dropped + ')' : '–';
  $('clients').textContent = m.clients.length;
  if (m.instruction) $('instruction').textContent = m.instruction;
  showInputs(m.inputs);
  const c = m.control;
  if (!c) return;
  if (c.mode) setMode(c.mode);
  if (c.estop) setEStop(c.estop);
  if (c.teleop) {
    const t = c.teleop;
    $('teleop-counts').textContent = 'driven ' + t.driven + ' ticks · held stale ' + t.stale + ' · compared ' + t.compared +
      (t.age_ms !== null ? ' · last command ' + fmt(t.age_ms, 0) + ' ms ago' : '');
  }
  showCompare(c.compare);
}

// showInputs lists the robot's inputs with their ages; a stale one is the
// reason the robot holds, so it is named in red.
function showInputs(inputs) {
  const el = $('inputs');
  if (!inputs || !inputs.length) { el.textContent = '–'; return; }
  el.textContent = '';
  for (const i of inputs) {
    const row = document.createElement('div');
    row.className = i.stale ? 'stale' : '';
    row.textContent = (i.stale ? 'STALE ' : '') + i.name + ' ' + fmt(i.age_ms, 0) + ' / ' + fmt(i.max_age_ms, 0) + ' ms';
    el.appendChild(row);
  }
}

function setMode(mode) {
  st.mode = mode;
  const el = $('mode');
  el.textContent = mode;
  el.className = 'pill ' + (mode === 'takeover' ? 'takeover' : 'policy');
  if (mode === 'takeover' && !st.armed) arm(true);
}

function setEStop(e) {
  st.estop = e.engaged;
  const el = $('estop-state');
  el.textContent = e.engaged ? 'HOLD — e-stop engaged' : 'e-stop released';
  el.className = 'pill ' + (e.engaged ? 'hold' : 'on');
  el.title = e.engaged ? (e.source + ', latency ' + fmt(e.latency_ms, 1) + ' ms, ' + e.held_ticks + ' ticks held') : '';
}

function showCompare(s) {
  if (!s) return;
  $('cmp-n').textContent = s.n;
  $('cmp-cos').textContent = fmt(s.cosine, 3);
  $('cmp-grip').textContent = pct(s.gripper_agreement);
  const names = dimNames(s.mae.length);
  const row = (label, cells, tag) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = label;
    tr.append(th, ...cells.map((x) => { const td = document.createElement(tag); td.textContent = x; return td; }));
    return tr;
  };
  const f3 = (xs) => xs.map((x) => fmt(x, 3));
  $('cmp-table').replaceChildren(row('', names, 'th'), row('MAE', f3(s.mae), 'td'), row('RMSE', f3(s.rmse), 'td'),
    row('max', f3(s.max_abs), 'td'));
}

function onEvent(m) {
  switch (m.kind) {
    case 'premise': {
      const el = $('premise');
      el.textContent = m.decision;
      el.className = 'pill ' + (m.decision === 'ok' ? 'on' : 'hold');
      $('premise-detail').textContent = m.detail || '';
      if (m.instruction) $('instruction').textContent = m.instruction;
      break;
    }
    case 'instruction':
      $('instr-msg').textContent = m.detail || '';
      if (m.instruction) $('instruction').textContent = m.instruction;
      break;
    case 'episode_start':
      st.ticks = [];
      for (const id of ['cmp-n', 'cmp-cos', 'cmp-grip']) $(id).textContent = '–'; // a new comparison starts
      $('cmp-table').replaceChildren();
      if (m.instruction) $('instruction').textContent = m.instruction;
      addEpisode('episode ' + m.episode + ' started' + (m.detail ? ' (' + m.detail + ')' : ''));
      break;
    case 'episode_end':
      addEpisode('episode ' + m.episode + ' ' + (m.success ? 'succeeded' : 'failed') + ' in ' + m.steps + ' steps' + (m.detail ? ' — ' + m.detail : ''));
      break;
    case 'comparison': {
      const s = m.compare;
      addEpisode('episode ' + m.episode + ' comparison: ' + s.n + ' pairs, cosine ' + fmt(s.cosine, 3) +
        ', gripper agreement ' + pct(s.gripper_agreement) + ', mean MAE ' +
        fmt(s.mae.reduce((a, b) => a + (b || 0), 0) / s.mae.length, 3), 'cmp');
      break;
    }
  }
}

function addEpisode(text, cls) {
  const li = document.createElement('li');
  li.textContent = text;
  if (cls) li.className = cls;
  const list = $('episodes');
  list.prepend(li);
  while (list.children.length > 30) list.lastChild.remove();
}

function onReply(m) {
  if (!m.ok) { showError((m.op || '') + ': ' + m.error); }
  else if (m.op === 'instruction') $('instr-msg').textContent = 'accepted';
  else showError('');
  if (m.op === 'instruction' && !m.ok) $('instr-msg').textContent = m.error;
}

// ---- plots ----------------------------------------------------------------

const plots = [];

function ensurePlots(d) {
  if (plots.length === d) return;
  const box = $('plots');
  box.replaceChildren();
  plots.length = 0;
  const names = dimNames(d);
  for (let i = 0; i < d; i++) {
    const c = document.createElement('canvas');
    c.width = 340; c.height = 96;
    c.id = 'plot-' + i;
    c.title = names[i];
    box.append(c);
    plots.push(c);
  }
}

function draw() {
  requestAnimationFrame(draw);
  const d = st.dims || (st.chunk && st.chunk.d) || 0;
  if (!d) return;
  ensurePlots(d);
  const names = dimNames(d);
  const tEnd = st.lastT || (st.chunk && st.chunk.obs_t) || 0;
  const chunkT0 = st.chunk ? (st.chunk.obs_t || tEnd) : 0;
  const chunkEnd = st.chunk ? chunkT0 + st.chunk.h * (st.chunk.step_ms || 50) : tEnd;
  const t1 = Math.max(tEnd, chunkEnd);
  const t0 = t1 - WINDOW_MS;
  for (let i = 0; i < d; i++) {
    const c = plots[i];
    const g = c.getContext('2d');
    const W = c.width, H = c.height, L = 34, T = 12;
    g.clearRect(0, 0, W, H);
    let lo = -0.05, hi = 0.05;
    for (const p of st.ticks) { const y = p.v[i]; if (y !== null && y !== undefined) { lo = Math.min(lo, y); hi = Math.max(hi, y); } }
    if (st.chunk) for (const a of st.chunk.actions) { const y = a[i]; if (y !== null) { lo = Math.min(lo, y); hi = Math.max(hi, y); } }
    const pad = (hi - lo) * 0.1; lo -= pad; hi += pad;
    const X = (t) => L + (t - t0) / (t1 - t0) * (W - L - 4);
    const Y = (v) => T + (hi - v) / (hi - lo) * (H - T - 6);
    // held ticks: a red band
    g.fillStyle = 'rgba(214,39,40,0.15)';
    for (const p of st.ticks) if (p.kind >= 2) g.fillRect(X(p.t) - 1, T, 3, H - T - 6);
    // axes: zero line, labels
    g.strokeStyle = '#ccc'; g.lineWidth = 1;
    g.beginPath(); g.moveTo(L, Y(0)); g.lineTo(W - 4, Y(0)); g.stroke();
    g.fillStyle = '#555'; g.font = '10px monospace';
    g.fillText(names[i], 2, 10);
    g.fillText(hi.toFixed(2), 2, T + 8);
    g.fillText(lo.toFixed(2), 2, H - 6);
    // executed
    g.strokeStyle = '#1f77b4'; g.lineWidth = 1.5;
    g.beginPath();
    let started = false;
    for (const p of st.ticks) {
      const y = p.v[i];
      if (y === null || y === undefined) { started = false; continue; }
      if (!started) { g.moveTo(X(p.t), Y(y)); started = true; } else g.lineTo(X(p.t), Y(y));
    }
    g.stroke();
    // chunk: the policy's intent from its observation time on
    if (st.chunk && st.chunk.d > i) {
      const step = st.chunk.step_ms || 50;
      g.strokeStyle = '#ff7f0e'; g.lineWidth = 1.5; g.setLineDash([4, 3]);
      g.beginPath();
      st.chunk.actions.forEach((a, k) => {
        const x = X(chunkT0 + k * step), y = Y(a[i] === null ? 0 : a[i]);
        if (k === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
      g.setLineDash([]);
    }
  }
}

// ---- teleop ---------------------------------------------------------------

const KEYMAP = {
  KeyW: [0, 1], KeyS: [0, -1], KeyA: [1, 1], KeyD: [1, -1], KeyR: [2, 1], KeyF: [2, -1],
  KeyL: [3, 1], KeyJ: [3, -1], KeyI: [4, 1], KeyK: [4, -1], KeyU: [5, 1], KeyO: [5, -1],
};

function arm(on) {
  if (on && !(st.hello && st.hello.controls.teleop)) return; // nothing to drive here
  if (on && !st.armed) {
    // Start from the gripper as it is, so taking over does not drop what
    // the policy holds.
    const last = st.ticks.length ? st.ticks[st.ticks.length - 1].v : null;
    if (last && last.length === 7 && last[6] !== null) st.gripper = last[6] > 0 ? 1 : -1;
  }
  st.armed = on;
  $('teleop-armed').checked = on;
}

function typing(e) { return e.target && (e.target.tagName === 'INPUT' && e.target.type !== 'checkbox' && e.target.type !== 'range'); }

document.addEventListener('keydown', (e) => {
  if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
  const code = e.code;
  if (code === 'Space') { e.preventDefault(); estop(); return; }
  if (e.repeat) { if (KEYMAP[code]) e.preventDefault(); return; }
  if (code === 'KeyT') { takeover(); return; }
  if (code === 'KeyP') { command({ type: 'mode', mode: 'policy' }); return; }
  if (code === 'Escape') { arm(false); return; }
  if (code === 'KeyG') { st.gripper = -st.gripper; arm(true); return; }
  if (KEYMAP[code]) { e.preventDefault(); st.keys.add(code); arm(true); }
});
document.addEventListener('keyup', (e) => { st.keys.delete(e.code); });
window.addEventListener('blur', () => st.keys.clear()); // a key released elsewhere

function takeover() {
  if (st.hello && !st.hello.controls.teleop) return;
  arm(true);
  sendTeleop(); // a fresh command before the switch: no stale hold
  command({ type: 'mode', mode: 'takeover' });
}

function estop() {
  if (!send({ type: 'estop', id: st.nextID++ })) {
    // Disconnected: the open endpoint still stops the robot.
    fetch('/viewer/estop', { method: 'POST' }).catch((err) => showError('e-stop not delivered: ' + err));
  }
}

function gamepadValues(v) {
  const pads = navigator.getGamepads ? navigator.getGamepads() : [];
  const dz = (x) => (Math.abs(x) < 0.15 ? 0 : x);
  for (const p of pads) {
    if (!p) continue;
    if (/3dconnexion|spacemouse|space navigator|spacenavigator/i.test(p.id) && p.axes.length >= 6) {
      // a space mouse: push/pull along and twist about each axis
      v[0] += -dz(p.axes[1]); v[1] += -dz(p.axes[0]); v[2] += -dz(p.axes[2]);
      v[3] += dz(p.axes[3]); v[4] += dz(p.axes[4]); v[5] += -dz(p.axes[5]);
      if (p.buttons[0] && p.buttons[0].pressed) st.gripper = 1;
      if (p.buttons[1] && p.buttons[1].pressed) st.gripper = -1;
      $('gamepad').textContent = 'space mouse: ' + p.id;
      return 'spacemouse';
    }
    const ax = p.axes, b = (i) => p.buttons[i] && p.buttons[i].pressed;
    v[0] += -dz(ax[1] || 0); v[1] += -dz(ax[0] || 0); v[2] += -dz(ax[3] || 0); v[5] += -dz(ax[2] || 0);
    if (b(12)) v[4] += 1; if (b(13)) v[4] -= 1; if (b(14)) v[3] -= 1; if (b(15)) v[3] += 1;
    if (p.buttons[7] && p.buttons[7].value > 0.5) st.gripper = 1;
    if (p.buttons[6] && p.buttons[6].value > 0.5) st.gripper = -1;
    // Y and B act once per press, not on every poll while held.
    if (b(3) && !st.padPrev[3]) takeover();
    if (b(1) && !st.padPrev[1]) command({ type: 'mode', mode: 'policy' });
    st.padPrev = p.buttons.map((x) => x.pressed);
    $('gamepad').textContent = 'gamepad: ' + p.id;
    return v.some((x, i) => i < 6 && x !== 0) ? 'gamepad' : null;
  }
  return null;
}

function sendTeleop() {
  const v = [0, 0, 0, 0, 0, 0, 0];
  let source = 'keyboard';
  const pad = gamepadValues(v);
  if (pad) source = pad;
  if (pad && !st.armed) arm(true);
  for (const k of st.keys) { const [d, s] = KEYMAP[k]; v[d] += s; }
  const scale = st.speed * (st.keys.has('ShiftLeft') || st.keys.has('ShiftRight') ? 0.3 : 1);
  for (let i = 0; i < 6; i++) v[i] = Math.max(-1, Math.min(1, v[i] * scale));
  v[6] = st.gripper;
  const d = st.dims || 7;
  st.cmd = v.slice(0, d);
  st.source = source;
  $('teleop-cmd').textContent = st.cmd.map((x) => x.toFixed(2)).join(' ');
  $('teleop-source').textContent = source;
  if (st.armed) send({ type: 'teleop', values: st.cmd, source });
}

// ---- wiring ---------------------------------------------------------------

$('btn-takeover').onclick = takeover;
$('btn-policy').onclick = () => command({ type: 'mode', mode: 'policy' });
$('btn-estop').onclick = estop;
$('btn-reset').onclick = () => {
  const b = $('btn-reset');
  const now = performance.now();
  if (now - st.resetArmedAt < 3000) {
    command({ type: 'estop_reset' });
    st.resetArmedAt = 0;
    b.textContent = 'Release e-stop';
  } else {
    st.resetArmedAt = now;
    b.textContent = 'Click again to release';
    setTimeout(() => { b.textContent = 'Release e-stop'; }, 3000);
  }
};
$('teleop-armed').onchange = (e) => arm(e.target.checked);
$('speed').oninput = (e) => { st.speed = Number(e.target.value); $('speed-val').textContent = st.speed.toFixed(2); };
$('instr-form').onsubmit = (e) => {
  e.preventDefault();
  const s = $('instr-input').value.trim();
  if (s) { $('instr-msg').textContent = 'asking…'; command({ type: 'instruction', instruction: s }); }
};
setInterval(sendTeleop, SEND_MS);
requestAnimationFrame(draw);
connect();
