// HTTP client for /api/v1. JSON in and out, cookie session, CSRF header on
// every non-GET request once signed in.

export class ApiError extends Error {
  /** status 0 means the request never reached the server. */
  constructor(status, code, message, details = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    /** The problem's `details` (e.g. `problems` of a 422 not_confirmable), when sent. */
    this.details = details;
  }
}

let csrfToken = null;
let onUnauthorized = null;

/** Remember the CSRF token from a login / me / setup response. */
export function setSession(session) { csrfToken = session?.csrf_token ?? null; }
export function clearSession() { csrfToken = null; }

/** Called when an authenticated request gets 401 (session expired). */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function csrfFromCookie() {
  const m = document.cookie.match(/(?:^|;\s*)tongdai_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : null;
}

/**
 * request('POST', '/auth/login', body, {auth: false})
 * auth:false → no CSRF header and a 401 is returned to the caller instead of
 * triggering the session-expired handler (login, setup, me).
 */
export async function request(method, path, body, { auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && auth) {
    const token = csrfToken || csrfFromCookie();
    if (token) headers['X-CSRF-Token'] = token;
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(0, 'network', err.message);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.code || `http_${res.status}`, data?.message || res.statusText, data?.details ?? null);
    if (res.status === 401 && auth && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  return data;
}

const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== false) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
};

export const api = {
  /** Generic calls for the screens: path under /api/v1, params → query string. */
  get: (path, params = {}) => request('GET', `${path}${qs(params)}`),
  post: (path, body = {}) => request('POST', path, body),
  put: (path, body = {}) => request('PUT', path, body),
  patch: (path, body = {}) => request('PATCH', path, body),
  del: (path) => request('DELETE', path),

  setupStatus: () => request('GET', '/setup/status', undefined, { auth: false }),
  setup: (body) => request('POST', '/setup', body, { auth: false }),
  login: (email, password) => request('POST', '/auth/login', { email, password }, { auth: false }),
  me: () => request('GET', '/auth/me', undefined, { auth: false }),
  logout: () => request('POST', '/auth/logout'),

  /** filter: {status, unread, assignee}; cursor from the previous page. */
  conversations: ({ status, unread, assignee }, cursor, limit = 50) =>
    request('GET', `/conversations${qs({ status, unread: unread ? 'true' : null, assignee, limit, cursor })}`),
  conversation: (id) => request('GET', `/conversations/${encodeURIComponent(id)}`),
  updateConversation: (id, patch) => request('PATCH', `/conversations/${encodeURIComponent(id)}`, patch),
  markRead: (id) => request('POST', `/conversations/${encodeURIComponent(id)}/read`),
  messages: (id, before, limit = 50) =>
    request('GET', `/conversations/${encodeURIComponent(id)}/messages${qs({ limit, before })}`),
  sendMessage: (id, text) => request('POST', `/conversations/${encodeURIComponent(id)}/messages`, { text }),

  /** Facebook Login: the pages of a connect attempt, then connect the chosen ones. */
  connectPages: (attempt) => request('GET', `/channels/facebook/connect/${encodeURIComponent(attempt)}/pages`),
  connectChosen: (attempt, pages, instagram) =>
    request('POST', `/channels/facebook/connect/${encodeURIComponent(attempt)}`, { pages, instagram }),
};
