// Display formatting: phone numbers, contact names, dates (Intl, vi-VN / en-GB).
import { t, getLocale, has } from './i18n.js';

/**
 * E.164 → local Vietnamese style for +84 numbers:
 *   +84912345678  → 0912 345 678   (mobile, 10 digits)
 *   +842412345678 → 024 1234 5678  (landline, 11 digits)
 * Other countries are shown as given.
 */
export function formatPhone(e164) {
  if (!e164) return '';
  const m = /^\+84(\d+)$/.exec(e164.replace(/[\s.-]/g, ''));
  if (!m) return e164;
  const local = `0${m[1]}`;
  if (local.length === 10) return `${local.slice(0, 4)} ${local.slice(4, 7)} ${local.slice(7)}`;
  if (local.length === 11) return `${local.slice(0, 3)} ${local.slice(3, 7)} ${local.slice(7)}`;
  return local;
}

/** A short, stable suffix of an id ("Khách #3f9a1c"). */
export function shortId(id) {
  const clean = String(id ?? '').replace(/[^0-9a-zA-Z]/g, '');
  return clean.slice(-6) || '?';
}

export function contactName(contact) {
  const name = contact?.name?.trim();
  return name || `${t('contact.unknown')} #${shortId(contact?.id)}`;
}

export function platformLabel(platform) {
  const key = `platform.${platform}`;
  if (has(key)) return t(key);
  const p = String(platform ?? '');
  return p.charAt(0).toUpperCase() + p.slice(1);
}

function toDate(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

const DAY = 86400000;

/** Whole calendar days between d and today (0 = today, 1 = yesterday). */
function daysAgo(d, now = new Date()) {
  return Math.round((startOfDay(now) - startOfDay(d)) / DAY);
}

/**
 * Compact time for the conversation list:
 * "vừa xong", "5 phút trước", "14:32", "Hôm qua", "Th 2", "03/02", "03/02/2023".
 */
export function listTime(iso, now = new Date()) {
  const d = toDate(iso);
  if (!d) return '';
  const locale = getLocale();
  const diffMin = Math.floor((now - d) / 60000);
  if (diffMin < 1) return t('time.just_now');
  if (diffMin < 60) {
    return new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'short' }).format(-diffMin, 'minute');
  }
  const days = daysAgo(d, now);
  if (days <= 0) return clock(iso);
  if (days === 1) return t('thread.yesterday');
  if (days < 7) return new Intl.DateTimeFormat(locale, { weekday: 'short' }).format(d);
  if (d.getFullYear() === now.getFullYear()) {
    // vi-VN renders day+month as "12-11"; sellers expect "12/11" (both locales put the day first).
    const parts = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit' }).formatToParts(d);
    const get = (type) => parts.find((p) => p.type === type)?.value;
    return `${get('day')}/${get('month')}`;
  }
  return new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric' }).format(d);
}

/** "14:32" */
export function clock(iso) {
  const d = toDate(iso);
  if (!d) return '';
  return new Intl.DateTimeFormat(getLocale(), { hour: '2-digit', minute: '2-digit' }).format(d);
}

/** Full date and time for tooltips / <time title>. */
export function fullDateTime(iso) {
  const d = toDate(iso);
  if (!d) return '';
  return new Intl.DateTimeFormat(getLocale(), { dateStyle: 'full', timeStyle: 'short' }).format(d);
}

/** Day separator label in the thread: "Hôm nay", "Hôm qua", "Thứ Hai, 3 tháng 2". */
export function dayLabel(iso, now = new Date()) {
  const d = toDate(iso);
  if (!d) return '';
  const days = daysAgo(d, now);
  if (days === 0) return t('thread.today');
  if (days === 1) return t('thread.yesterday');
  const opts = { weekday: 'long', day: 'numeric', month: 'long' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return new Intl.DateTimeFormat(getLocale(), opts).format(d);
}

/** Key identifying the local calendar day of a timestamp. */
export function dayKey(iso) {
  const d = toDate(iso);
  return d ? startOfDay(d) : null;
}
