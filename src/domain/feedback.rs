//! Order feedback: reading a customer's answer (a 1–5 rating and a comment) out of free text,
//! the complaint categories of unhappy answers, and filling the message templates sent to
//! customers about their orders.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A customer's answer to the feedback question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// 1–5.
    pub rating: u8,
    /// Whatever else they wrote (`None` when nothing).
    pub comment: Option<String>,
}

impl Answer {
    /// An unhappy answer opens a complaint.
    pub fn is_complaint(&self) -> bool {
        self.rating <= 2
    }
    /// A happy answer makes the customer a promoter.
    pub fn is_promoter(&self) -> bool {
        self.rating >= 4
    }
}

/// The rating and comment in `text`, when it carries a rating.
///
/// At the start of the text: a digit 1–5 on its own or followed by a separator (`2 giao hàng
/// chậm quá`, `4.`, `5, tốt`), optionally with a unit (`5 sao`, `5*`, `5/5`, `5 điểm`,
/// `5 ⭐`); a run of stars (`⭐⭐⭐⭐⭐`, `★★★`); a Vietnamese number word followed by `sao`
/// (`năm sao`, `bốn sao`, with or without tones). Elsewhere in the text only the explicit forms
/// count (`shop tốt, 5 sao`, `hàng ok ⭐⭐⭐⭐`), so a number in passing (`mua 2 cái`) is not
/// taken for a rating. Digits that belong to a longer number (`0912…`, `10`, `4.5`) never
/// count. Five or more stars are a 5.
pub fn parse_answer(text: &str) -> Option<Answer> {
    let t = text.trim();
    let mut prev: Option<char> = None;
    for (i, c) in t.char_indices() {
        let boundary = prev.is_none_or(|p| !p.is_alphanumeric());
        prev = Some(c);
        // The digits of `4.5` or `1,5` are one number.
        let decimal = c.is_ascii_digit()
            && t[..i]
                .strip_suffix(['.', ','])
                .is_some_and(|b| b.ends_with(|d: char| d.is_ascii_digit()));
        if !boundary || decimal {
            continue;
        }
        let Some((rating, rest)) = rating_at(&t[i..], i == 0) else {
            continue;
        };
        let before = t[..i].trim_end_matches(is_separator);
        let after = rest.trim_start_matches(is_separator);
        let comment = match (before.is_empty(), after.is_empty()) {
            (true, true) => None,
            (false, true) => Some(before.to_owned()),
            (true, false) => Some(after.to_owned()),
            (false, false) => Some(format!("{before} {after}")),
        };
        return Some(Answer {
            rating,
            comment: comment
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty()),
        });
    }
    None
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '.' | '-' | ':' | ';' | '!' | '–' | '—' | '~')
}

fn is_star(c: char) -> bool {
    matches!(c, '⭐' | '★' | '🌟' | '☆')
}

/// A rating at the start of `s` and the text after it. `first`: `s` is the whole answer, where
/// a bare digit counts.
fn rating_at(s: &str, first: bool) -> Option<(u8, &str)> {
    if let Some(r) = stars(s) {
        return Some(r);
    }
    if let Some(r) = digit(s, first) {
        return Some(r);
    }
    word(s)
}

/// A run of star characters (emoji variation selectors and spaces between them allowed).
fn stars(s: &str) -> Option<(u8, &str)> {
    let mut count = 0usize;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if is_star(c) {
            count += 1;
            end = i + c.len_utf8();
        } else if c == '\u{FE0F}' || (c == ' ' && count > 0) {
            if c == '\u{FE0F}' && count > 0 {
                end = i + c.len_utf8();
            }
        } else {
            break;
        }
    }
    (count > 0).then(|| (count.min(5) as u8, &s[end..]))
}

/// A digit 1–5 that is not part of a longer number, with its unit if any.
fn digit(s: &str, first: bool) -> Option<(u8, &str)> {
    let mut chars = s.chars();
    let d = chars.next()?;
    if !('1'..='5').contains(&d) {
        return None;
    }
    let rest = &s[1..];
    let mut next = rest.chars();
    match next.next() {
        Some(c) if c.is_ascii_digit() => return None,
        Some('.' | ',') if next.next().is_some_and(|c| c.is_ascii_digit()) => return None,
        _ => {}
    }
    let rating = d as u8 - b'0';
    if let Some(after) = unit(rest) {
        return Some((rating, after));
    }
    // Bare: only as the answer's first word, and not glued to letters (`5k`, `2cái`).
    let glued = rest.chars().next().is_some_and(|c| c.is_alphanumeric());
    (first && !glued).then_some((rating, rest))
}

/// A rating unit right after a number: `sao`, `*`, `/5`, `điểm`, stars.
fn unit(rest: &str) -> Option<&str> {
    let r = rest.trim_start_matches(' ');
    if let Some(after) = r.strip_prefix("/5") {
        return (!after.starts_with(|c: char| c.is_ascii_digit())).then_some(after);
    }
    if let Some(after) = r.strip_prefix('*') {
        return Some(after.trim_start_matches('*'));
    }
    if let Some((_, after)) = stars(r) {
        return Some(after);
    }
    for w in ["sao", "điểm", "diem"] {
        if let Some(after) = word_prefix(r, w) {
            return Some(after);
        }
    }
    None
}

/// A Vietnamese number word 1–5 followed by `sao`.
fn word(s: &str) -> Option<(u8, &str)> {
    const WORDS: [(&str, u8); 8] = [
        ("một", 1),
        ("mot", 1),
        ("hai", 2),
        ("ba", 3),
        ("bốn", 4),
        ("bon", 4),
        ("năm", 5),
        ("nam", 5),
    ];
    WORDS.iter().find_map(|(w, n)| {
        let after = word_prefix(s, w)?;
        let after = word_prefix(after.trim_start_matches(' '), "sao")?;
        Some((*n, after))
    })
}

/// `s` without a leading whole word `w` (case-insensitive).
fn word_prefix<'a>(s: &'a str, w: &str) -> Option<&'a str> {
    let mut it = s.char_indices();
    for wc in w.chars() {
        let (_, c) = it.next()?;
        if !c.to_lowercase().eq(wc.to_lowercase()) {
            return None;
        }
    }
    match it.next() {
        Some((_, c)) if c.is_alphanumeric() => None,
        Some((i, _)) => Some(&s[i..]),
        None => Some(""),
    }
}

/// What an unhappy answer is about (chosen by customer care).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintCategory {
    /// Shipping and delivery.
    Delivery,
    /// The product itself.
    ProductQuality,
    /// Attitude of online staff (chat, phone).
    OnlineStaff,
    /// Attitude of store staff.
    StoreStaff,
    /// Prices, returns, warranty, promotions.
    SalesPolicy,
}

impl ComplaintCategory {
    /// Every category.
    pub const ALL: [ComplaintCategory; 5] = [
        ComplaintCategory::Delivery,
        ComplaintCategory::ProductQuality,
        ComplaintCategory::OnlineStaff,
        ComplaintCategory::StoreStaff,
        ComplaintCategory::SalesPolicy,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintCategory::Delivery => "delivery",
            ComplaintCategory::ProductQuality => "product_quality",
            ComplaintCategory::OnlineStaff => "online_staff",
            ComplaintCategory::StoreStaff => "store_staff",
            ComplaintCategory::SalesPolicy => "sales_policy",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<ComplaintCategory> {
        ComplaintCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// How staff read it.
    pub fn label_vi(self) -> &'static str {
        match self {
            ComplaintCategory::Delivery => "Giao hàng",
            ComplaintCategory::ProductQuality => "Chất lượng sản phẩm",
            ComplaintCategory::OnlineStaff => "Thái độ nhân viên online",
            ComplaintCategory::StoreStaff => "Thái độ nhân viên cửa hàng",
            ComplaintCategory::SalesPolicy => "Chính sách bán hàng",
        }
    }
}

/// `conversation.complaint` of a complaint whose category is not chosen yet.
pub const COMPLAINT_PENDING: &str = "pending";
/// The label put on complaint conversations.
pub const COMPLAINT_LABEL: &str = "Khiếu nại";

/// The short code customers see for an order: 8 characters of its id, uppercased. The id is a
/// UUIDv7 whose first 8 characters are the creation time in units of ~65 s (orders made in the
/// same minute would share them), so the code is taken from the random tail instead.
pub fn order_code(id: Uuid) -> String {
    let s = id.simple().to_string();
    s[s.len() - 8..].to_uppercase()
}

/// Fill `{name}` placeholders of a template (unknown placeholders stay as written).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Option<(u8, Option<&str>)> {
        // Leak for the test's convenience: compare with string literals.
        parse_answer(text).map(|a| (a.rating, a.comment.map(|c| &*Box::leak(c.into_boxed_str()))))
    }

    #[test]
    fn a_digit_at_the_start() {
        assert_eq!(r("5"), Some((5, None)));
        assert_eq!(r("  1 "), Some((1, None)));
        assert_eq!(
            r("2 giao hàng chậm quá"),
            Some((2, Some("giao hàng chậm quá")))
        );
        assert_eq!(r("4. Hàng đẹp"), Some((4, Some("Hàng đẹp"))));
        assert_eq!(r("3, tạm được"), Some((3, Some("tạm được"))));
    }

    #[test]
    fn units_after_the_digit() {
        assert_eq!(r("5 sao"), Some((5, None)));
        assert_eq!(r("5 Sao!"), Some((5, None)));
        assert_eq!(r("5sao shop tốt"), Some((5, Some("shop tốt"))));
        assert_eq!(r("5*"), Some((5, None)));
        assert_eq!(r("4/5 hàng ổn"), Some((4, Some("hàng ổn"))));
        assert_eq!(r("3 điểm"), Some((3, None)));
        assert_eq!(r("5 ⭐"), Some((5, None)));
    }

    #[test]
    fn stars() {
        assert_eq!(r("⭐⭐⭐⭐⭐"), Some((5, None)));
        assert_eq!(r("⭐️⭐️⭐️ ok"), Some((3, Some("ok"))));
        assert_eq!(r("★★"), Some((2, None)));
        assert_eq!(r("⭐⭐⭐⭐⭐⭐⭐"), Some((5, None)));
        assert_eq!(r("hàng tốt ⭐⭐⭐⭐"), Some((4, Some("hàng tốt"))));
    }

    #[test]
    fn vietnamese_words() {
        assert_eq!(r("năm sao"), Some((5, None)));
        assert_eq!(r("Bốn sao, giao nhanh"), Some((4, Some("giao nhanh"))));
        assert_eq!(r("mot sao"), Some((1, None)));
        assert_eq!(r("hai  sao"), Some((2, None)));
        assert_eq!(r("năm nay mua lần đầu"), None, "năm is also a year");
        assert_eq!(r("ba mẹ mình thích lắm"), None);
    }

    #[test]
    fn explicit_forms_anywhere() {
        assert_eq!(
            r("Shop tư vấn nhiệt tình, 5 sao"),
            Some((5, Some("Shop tư vấn nhiệt tình")))
        );
        assert_eq!(r("cho shop 4* nha"), Some((4, Some("cho shop nha"))));
        assert_eq!(r("chấm năm sao"), Some((5, Some("chấm"))));
    }

    #[test]
    fn no_rating() {
        assert_eq!(r(""), None);
        assert_eq!(r("cảm ơn shop"), None);
        assert_eq!(r("0912345678"), None);
        assert_eq!(r("10 điểm"), None);
        assert_eq!(r("6 sao"), None);
        assert_eq!(r("0 sao"), None);
        assert_eq!(r("4.5 sao"), None);
        assert_eq!(r("mua 2 cái nữa"), None, "a number in passing");
        assert_eq!(r("5k ship"), None);
        assert_eq!(r("12345 sao"), None);
    }

    #[test]
    fn complaint_and_promoter() {
        let a = |rating| Answer {
            rating,
            comment: None,
        };
        assert!(a(1).is_complaint() && a(2).is_complaint() && !a(3).is_complaint());
        assert!(a(4).is_promoter() && a(5).is_promoter() && !a(3).is_promoter());
    }

    #[test]
    fn categories_round_trip() {
        for c in ComplaintCategory::ALL {
            assert_eq!(ComplaintCategory::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
            assert!(!c.label_vi().is_empty());
        }
        assert_eq!(ComplaintCategory::parse("pending"), None);
    }

    #[test]
    fn order_codes_and_templates() {
        let id: Uuid = "0192f3a4-5b6c-7d8e-9f01-23456789abcd".parse().unwrap();
        assert_eq!(order_code(id), "6789ABCD");
        assert_eq!(
            fill(
                "Đơn {order} đã giao cho {carrier}, mã {tracking_code}. {other}",
                &[
                    ("order", "AB12"),
                    ("carrier", "GHN"),
                    ("tracking_code", "GHN123")
                ]
            ),
            "Đơn AB12 đã giao cho GHN, mã GHN123. {other}"
        );
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_and_ratings_are_in_range(s in "\\PC{0,40}") {
                if let Some(a) = parse_answer(&s) {
                    prop_assert!((1..=5).contains(&a.rating));
                    if let Some(c) = &a.comment {
                        prop_assert!(!c.is_empty());
                    }
                }
            }

            #[test]
            fn mixed_alphabet_never_panics(s in "[0-9 ⭐★️\u{FE0F}*/.,saoSAOđiểmnăbốhm]{0,24}") {
                if let Some(a) = parse_answer(&s) {
                    prop_assert!((1..=5).contains(&a.rating));
                }
            }

            #[test]
            fn a_leading_rating_is_read(n in 1u8..=5, rest in "[a-zà-ỹ ]{0,20}") {
                let a = parse_answer(&format!("{n} sao {rest}")).unwrap();
                prop_assert_eq!(a.rating, n);
            }
        }
    }
}
