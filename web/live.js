// Live updates over the websocket at /api/ws.
//
// Frames are JSON {type, seq, data}. We remember the highest seq seen and,
// after a drop, reconnect with ?since=<seq> so the server can replay what we
// missed (or answer with a "resync" frame). Backoff: 1 s, 2 s, 5 s, then 10 s.
// The server sends "hello" first, then the replay, then live frames.

const BACKOFF_MS = [1000, 2000, 5000, 10000];

export class LiveConnection {
  /**
   * onEvent(type, data) – every frame except "hello"
   * onState(state)      – 'connecting' | 'online' | 'offline'
   * onRetry(attempt)    – called before each reconnect attempt (after a drop)
   */
  constructor({ onEvent, onState, onRetry }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onRetry = onRetry;
    this.seq = null;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.state = null;
    this._onOnline = () => { if (this.state === 'offline') this._reconnectNow(); };
  }

  start() {
    this.stopped = false;
    window.addEventListener('online', this._onOnline);
    this._connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._onOnline);
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState?.(state);
  }

  _url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const since = this.seq === null ? '' : `?since=${encodeURIComponent(this.seq)}`;
    return `${proto}//${location.host}/api/ws${since}`;
  }

  _connect() {
    if (this.stopped) return;
    // The first connection shows "connecting"; later ones keep the "offline"
    // indicator until the server says hello.
    if (this.state !== 'offline') this._setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this._url());
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => this._onFrame(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._scheduleReconnect();
    };
    // onerror is always followed by onclose; nothing to do here.
    ws.onerror = () => {};
  }

  _onFrame(raw) {
    let frame;
    try { frame = JSON.parse(raw); } catch { return; }
    if (!frame || typeof frame.type !== 'string') return;
    const seq = typeof frame.seq === 'number' ? frame.seq : frame.data?.seq;
    if (frame.type === 'hello') {
      this.attempt = 0;
      this._setState('online');
      if (typeof seq === 'number') {
        if (this.seq === null) {
          this.seq = seq; // first connection: we fetch fresh state anyway
        } else if (seq < this.seq) {
          // The server's counter went backwards (restart): it cannot replay
          // what we missed, so refetch everything.
          this.seq = seq;
          this._emit('resync', {});
        }
        // Otherwise keep our seq: hello comes *before* the replay, and the
        // replayed frames advance it. Taking hello's seq now would lose
        // events if the socket dropped mid-replay.
      }
      return;
    }
    if (typeof seq === 'number' && (this.seq === null || seq > this.seq)) this.seq = seq;
    this._emit(frame.type, frame.data ?? {});
  }

  _emit(type, data) {
    try {
      this.onEvent?.(type, data);
    } catch (err) {
      // A bug in one handler must not kill the connection.
      console.error('live event handler failed', type, err);
    }
  }

  _scheduleReconnect() {
    if (this.stopped) return;
    this._setState('offline');
    clearTimeout(this.timer);
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.onRetry?.(this.attempt);
      this._connect();
    }, delay);
  }

  _reconnectNow() {
    clearTimeout(this.timer);
    if (!this.ws) this._connect();
  }
}
