// All user-visible strings, one catalogue per language.
// Vietnamese is the default; the choice is remembered in localStorage.
//
// Static parts of the DOM are marked with data-i18n / data-i18n-attr (see
// dom.js) and re-translated in place by translateTree() when the language
// changes; dynamic parts (list rows, messages) are re-rendered by the screen.

export const catalogue = {
  vi: {
    'app.name': 'tongdai',
    'lang.switch': 'English',
    'lang.switch.label': 'Switch to English',
    'common.loading': 'Đang tải…',
    'common.retry': 'Thử lại',
    'error.network': 'Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.',
    'error.generic': 'Đã có lỗi xảy ra ({code}).',
    'error.session_expired': 'Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.',

    'login.title': 'Đăng nhập',
    'login.subtitle': 'Hộp thư chung cho mọi kênh bán hàng',
    'login.email': 'Email',
    'login.password': 'Mật khẩu',
    'login.submit': 'Đăng nhập',
    'login.submitting': 'Đang đăng nhập…',
    'login.invalid_credentials': 'Email hoặc mật khẩu không đúng.',
    'login.rate_limited': 'Bạn đã thử quá nhiều lần, vui lòng thử lại sau.',
    'login.setup_needed': 'Hệ thống chưa được thiết lập. Hãy mở đường dẫn thiết lập được in trong nhật ký máy chủ.',

    'setup.title': 'Tạo tài khoản chủ cửa hàng',
    'setup.subtitle': 'Tài khoản đầu tiên sẽ là chủ sở hữu của không gian làm việc.',
    'setup.name': 'Họ và tên',
    'setup.email': 'Email',
    'setup.password': 'Mật khẩu',
    'setup.password_hint': 'Ít nhất 8 ký tự.',
    'setup.workspace': 'Tên cửa hàng / không gian làm việc',
    'setup.submit': 'Tạo tài khoản',
    'setup.submitting': 'Đang tạo…',
    'setup.password_short': 'Mật khẩu phải có ít nhất 8 ký tự.',
    'setup.missing_token': 'Thiếu mã thiết lập. Hãy mở đúng đường dẫn thiết lập được in trong nhật ký máy chủ.',
    'setup.done': 'Hệ thống đã được thiết lập.',
    'setup.go_login': 'Đến trang đăng nhập',
    'setup.invalid_token': 'Mã thiết lập không hợp lệ hoặc đã hết hạn.',

    'inbox.user_menu': 'Tài khoản',
    'inbox.logout': 'Đăng xuất',
    'inbox.filters': 'Lọc cuộc trò chuyện',
    'inbox.filter.open': 'Mở',
    'inbox.filter.pending': 'Đang chờ',
    'inbox.filter.resolved': 'Đã xong',
    'inbox.filter.unread': 'Chưa đọc',
    'inbox.list_label': 'Danh sách cuộc trò chuyện',
    'inbox.empty': 'Chưa có cuộc trò chuyện nào',
    'inbox.empty_unread': 'Không có cuộc trò chuyện chưa đọc',
    'inbox.load_error': 'Không tải được danh sách cuộc trò chuyện.',
    'inbox.load_more': 'Tải thêm',
    'inbox.unread_count': '{n} tin chưa đọc',
    'inbox.no_preview': 'Chưa có tin nhắn',
    'inbox.pick': 'Chọn một cuộc trò chuyện để bắt đầu trả lời khách.',

    'contact.unknown': 'Khách',
    'kind.comment_thread': 'Bình luận',
    'status.open': 'Đang mở',
    'status.pending': 'Đang chờ',
    'status.resolved': 'Đã xong',

    'platform.facebook': 'Messenger',
    'platform.instagram': 'Instagram',
    'platform.zalo': 'Zalo',
    'platform.tiktok': 'TikTok',
    'platform.shopee': 'Shopee',
    'platform.lazada': 'Lazada',
    'platform.telegram': 'Telegram',

    'thread.back': 'Quay lại danh sách',
    'thread.resolve': 'Đánh dấu đã xong',
    'thread.reopen': 'Mở lại',
    'thread.messages_label': 'Tin nhắn',
    'thread.load_older': 'Xem tin nhắn cũ hơn',
    'thread.empty': 'Chưa có tin nhắn nào trong cuộc trò chuyện này.',
    'thread.not_found': 'Không tìm thấy cuộc trò chuyện này.',
    'thread.load_error': 'Không tải được tin nhắn.',
    'thread.action_error': 'Không cập nhật được cuộc trò chuyện.',
    'thread.via': 'qua {name}',
    'thread.today': 'Hôm nay',
    'thread.yesterday': 'Hôm qua',
    'thread.attachment': 'Tệp đính kèm ({kind})',
    'thread.image': 'Ảnh đính kèm',
    'thread.from_page': 'Gửi từ trang',
    'thread.automatic': 'Tin tự động',
    'connect.facebook': 'Kết nối Facebook',
    'connect.title': 'Chọn trang để kết nối',
    'connect.hint': 'Tin nhắn và bình luận của các trang (và tài khoản Instagram) được chọn sẽ về hộp thư này.',
    'connect.submit': 'Kết nối',
    'connect.already': 'Đã kết nối',
    'connect.instagram': 'Instagram: {name}',
    'connect.done': 'Đã kết nối {n} tài khoản: {names}. Lịch sử tin nhắn gần đây đang được tải về.',
    'connect.back': 'Về hộp thư',
    'connect.none': 'Tài khoản Facebook này không quản lý trang nào.',
    'connect.load_error': 'Không tải được danh sách trang.',
    'thread.private_reply': 'Nhắn riêng',
    'thread.hidden': 'Đã ẩn',
    'thread.edited': 'Đã sửa',
    'thread.removed': 'Đã xoá',
    'thread.unsent': 'Đã thu hồi',
    'thread.post': 'Bình luận dưới bài viết',
    'thread.post_text': 'Bài viết: {text}',
    'thread.window_standard': 'Trả lời được đến {until}',
    'thread.window_human_agent': 'Ngoài 24 giờ: chỉ nhân viên trả lời được, đến {until}',
    'thread.window_expired': 'Không trả lời được: khách nhắn lần cuối đã quá 7 ngày',
    'thread.window_never': 'Không trả lời được: khách chưa nhắn cho trang',
    'thread.you_said': 'Bạn',
    'thread.contact_said': 'Khách',

    'msg.queued': 'Đang gửi…',
    'msg.sent': 'Đã gửi',
    'msg.delivered': 'Đã nhận',
    'msg.read': 'Đã xem',
    'msg.failed': 'Gửi không thành công',
    'msg.received': 'Đã nhận',

    'reply.label': 'Trả lời khách',
    'reply.placeholder': 'Nhập tin nhắn…',
    'reply.send': 'Gửi',
    'reply.hint': 'Enter để gửi · Shift+Enter để xuống dòng',
    'reply.error': 'Không gửi được tin nhắn: {message}',

    'conn.online': 'Đã kết nối',
    'conn.offline': 'Mất kết nối, đang kết nối lại…',
    'conn.connecting': 'Đang kết nối…',

    'time.just_now': 'vừa xong',
  },

  en: {
    'app.name': 'tongdai',
    'lang.switch': 'Tiếng Việt',
    'lang.switch.label': 'Chuyển sang tiếng Việt',
    'common.loading': 'Loading…',
    'common.retry': 'Retry',
    'error.network': 'Cannot reach the server. Check your connection and try again.',
    'error.generic': 'Something went wrong ({code}).',
    'error.session_expired': 'Your session has expired, please sign in again.',

    'login.title': 'Sign in',
    'login.subtitle': 'One inbox for all your sales channels',
    'login.email': 'Email',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.submitting': 'Signing in…',
    'login.invalid_credentials': 'Wrong email or password.',
    'login.rate_limited': 'Too many attempts, try again later.',
    'login.setup_needed': 'This server is not set up yet. Open the setup link printed in the server log.',

    'setup.title': 'Create the owner account',
    'setup.subtitle': 'The first account becomes the owner of the workspace.',
    'setup.name': 'Full name',
    'setup.email': 'Email',
    'setup.password': 'Password',
    'setup.password_hint': 'At least 8 characters.',
    'setup.workspace': 'Shop / workspace name',
    'setup.submit': 'Create account',
    'setup.submitting': 'Creating…',
    'setup.password_short': 'The password must be at least 8 characters.',
    'setup.missing_token': 'The setup token is missing. Open the setup link printed in the server log.',
    'setup.done': 'This server is already set up.',
    'setup.go_login': 'Go to sign in',
    'setup.invalid_token': 'The setup token is invalid or has expired.',

    'inbox.user_menu': 'Account',
    'inbox.logout': 'Sign out',
    'inbox.filters': 'Filter conversations',
    'inbox.filter.open': 'Open',
    'inbox.filter.pending': 'Pending',
    'inbox.filter.resolved': 'Resolved',
    'inbox.filter.unread': 'Unread',
    'inbox.list_label': 'Conversations',
    'inbox.empty': 'No conversations yet',
    'inbox.empty_unread': 'No unread conversations',
    'inbox.load_error': 'Could not load conversations.',
    'inbox.load_more': 'Load more',
    'inbox.unread_count': '{n} unread',
    'inbox.no_preview': 'No messages yet',
    'inbox.pick': 'Pick a conversation to start replying.',

    'contact.unknown': 'Customer',
    'kind.comment_thread': 'Comment',
    'status.open': 'Open',
    'status.pending': 'Pending',
    'status.resolved': 'Resolved',

    'platform.facebook': 'Messenger',
    'platform.instagram': 'Instagram',
    'platform.zalo': 'Zalo',
    'platform.tiktok': 'TikTok',
    'platform.shopee': 'Shopee',
    'platform.lazada': 'Lazada',
    'platform.telegram': 'Telegram',

    'thread.back': 'Back to conversations',
    'thread.resolve': 'Mark resolved',
    'thread.reopen': 'Reopen',
    'thread.messages_label': 'Messages',
    'thread.load_older': 'Show older messages',
    'thread.empty': 'No messages in this conversation yet.',
    'thread.not_found': 'This conversation was not found.',
    'thread.load_error': 'Could not load messages.',
    'thread.action_error': 'Could not update the conversation.',
    'thread.via': 'via {name}',
    'thread.today': 'Today',
    'thread.yesterday': 'Yesterday',
    'thread.attachment': 'Attachment ({kind})',
    'connect.facebook': 'Connect Facebook',
    'connect.title': 'Choose what to connect',
    'connect.hint': 'Messages and comments of the chosen Pages (and Instagram accounts) will arrive in this inbox.',
    'connect.submit': 'Connect',
    'connect.already': 'Connected',
    'connect.instagram': 'Instagram: {name}',
    'connect.done': 'Connected {n} account(s): {names}. Their recent history is being imported.',
    'connect.back': 'Back to the inbox',
    'connect.none': 'This Facebook account manages no Page.',
    'connect.load_error': 'Could not load the pages.',
    'thread.private_reply': 'Private reply',
    'thread.hidden': 'Hidden',
    'thread.edited': 'Edited',
    'thread.removed': 'Removed',
    'thread.unsent': 'Unsent',
    'thread.post': 'Comments under a post',
    'thread.post_text': 'Post: {text}',
    'thread.window_standard': 'Can reply until {until}',
    'thread.window_human_agent': 'After 24 h: human agents only, until {until}',
    'thread.window_expired': 'Cannot reply: the customer last wrote more than 7 days ago',
    'thread.window_never': 'Cannot reply: the customer has not written to the page',
    'thread.image': 'Attached image',
    'thread.from_page': 'Sent from the page',
    'thread.automatic': 'Automatic message',
    'thread.you_said': 'You',
    'thread.contact_said': 'Customer',

    'msg.queued': 'Sending…',
    'msg.sent': 'Sent',
    'msg.delivered': 'Delivered',
    'msg.read': 'Seen',
    'msg.failed': 'Not sent',
    'msg.received': 'Received',

    'reply.label': 'Reply to the customer',
    'reply.placeholder': 'Type a message…',
    'reply.send': 'Send',
    'reply.hint': 'Enter to send · Shift+Enter for a new line',
    'reply.error': 'Could not send the message: {message}',

    'conn.online': 'Connected',
    'conn.offline': 'Connection lost, reconnecting…',
    'conn.connecting': 'Connecting…',

    'time.just_now': 'just now',
  },
};

const STORAGE_KEY = 'tongdai.lang';
const LOCALES = { vi: 'vi-VN', en: 'en-GB' };

function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && saved in catalogue) return saved;
  } catch { /* storage may be disabled */ }
  return 'vi';
}

let lang = initialLang();
const listeners = new Set();

export function getLang() { return lang; }

/** BCP 47 locale for Intl formatters: vi-VN or en-GB. */
export function getLocale() { return LOCALES[lang]; }

export function setLang(next) {
  if (!(next in catalogue) || next === lang) return;
  lang = next;
  try { localStorage.setItem(STORAGE_KEY, next); } catch { /* ignore */ }
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

export function toggleLang() { setLang(lang === 'vi' ? 'en' : 'vi'); }

/** Subscribe to language changes; returns an unsubscribe function. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate a key, replacing {name} placeholders from params. */
export function t(key, params) {
  let s = catalogue[lang][key] ?? catalogue.vi[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

/** Does the catalogue have this key? (Used to translate server error codes.) */
export function has(key) { return key in catalogue[lang]; }

/** Re-apply translations to every element marked by dom.js under root. */
export function translateTree(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(',')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, t(key));
    }
  }
}

document.documentElement.lang = lang;
