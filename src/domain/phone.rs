//! Vietnamese mobile numbers: found in free text (`0912 345 678`, `0912.345.678`,
//! `+84 912 345 678`, `84912345678`), validated against libphonenumber's metadata and
//! normalized to E.164. The E.164 form is the key that joins one person across channels.

use std::fmt;

use phonenumber::{Mode, Type, country};

/// A validated Vietnamese mobile number in E.164 (`+84912345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Parse one number as a person would type it. Only Vietnamese mobile numbers are accepted.
    pub fn parse(input: &str) -> Option<Phone> {
        let digits: String = input.chars().filter(|c| c.is_ascii_digit()).collect();
        let plus = input.trim_start().starts_with('+');
        // "84912345678" (country code without '+') is common in chat; libphonenumber would read
        // it as a national number, so restore the '+' ourselves.
        let candidate = if plus || (digits.starts_with("84") && digits.len() == 11) {
            format!("+{digits}")
        } else {
            digits
        };
        let number = phonenumber::parse(Some(country::Id::VN), &candidate).ok()?;
        if number.code().value() != 84 || !number.is_valid() {
            return None;
        }
        match number.number_type(&phonenumber::metadata::DATABASE) {
            Type::Mobile | Type::FixedLineOrMobile => {}
            _ => return None,
        }
        Some(Phone(number.format().mode(Mode::E164).to_string()))
    }

    /// The E.164 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// National display form: `0912 345 678`.
    pub fn national(&self) -> String {
        let n = self.0.trim_start_matches("+84");
        match n.len() {
            9 => format!("0{} {} {}", &n[..3], &n[3..6], &n[6..]),
            _ => format!("0{n}"),
        }
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every distinct Vietnamese mobile number in `text`, in order of appearance.
pub fn find_phones(text: &str) -> Vec<Phone> {
    let mut out: Vec<Phone> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = c.is_ascii_digit()
            || (c == '+' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()));
        // A candidate must not continue a longer run of digits or letters ("ABC0912…", "1230912…").
        let glued = i > 0 && (chars[i - 1].is_ascii_alphanumeric());
        if !starts || glued {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = if c == '+' { i + 1 } else { i };
        let mut digits = 0;
        let mut end = j;
        while j < chars.len() {
            let ch = chars[j];
            if ch.is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
            } else if matches!(ch, ' ' | '.' | '-')
                && chars.get(j + 1).is_some_and(|d| d.is_ascii_digit())
                && digits > 0
            {
                j += 1;
            } else {
                break;
            }
            if digits > 13 {
                break;
            }
        }
        let followed_by_alnum = chars.get(end).is_some_and(|ch| ch.is_ascii_alphanumeric());
        if (9..=12).contains(&digits) && !followed_by_alnum {
            let candidate: String = chars[start..end].iter().collect();
            if let Some(p) = Phone::parse(&candidate)
                && !out.contains(&p)
            {
                out.push(p);
            }
        }
        i = end.max(start + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_vietnamese_format_normalizes_to_e164() {
        for s in [
            "0912 345 678",
            "0912.345.678",
            "+84 912 345 678",
            "84912345678",
            "0912345678",
            "+84912345678",
            "0912-345-678",
        ] {
            assert_eq!(
                Phone::parse(s).map(|p| p.to_string()),
                Some("+84912345678".to_owned()),
                "{s}"
            );
        }
    }

    #[test]
    fn non_mobile_or_foreign_or_short_numbers_are_rejected() {
        assert_eq!(Phone::parse("12345"), None);
        assert_eq!(Phone::parse("+1 415 555 2671"), None);
        assert_eq!(Phone::parse("0000000000"), None);
    }

    #[test]
    fn phones_are_found_in_vietnamese_text() {
        let found = find_phones(
            "Shop ơi, sđt em 0912.345.678 nhé, hoặc +84 987 654 321. Mã đơn 123456789012345",
        );
        let got: Vec<String> = found.iter().map(|p| p.to_string()).collect();
        assert_eq!(got, vec!["+84912345678", "+84987654321"]);
    }

    #[test]
    fn the_same_number_twice_is_reported_once_and_glued_digits_are_ignored() {
        assert_eq!(find_phones("0912345678 / 0912 345 678").len(), 1);
        assert!(find_phones("SKU90912345678").is_empty());
        assert!(find_phones("không có số").is_empty());
    }

    #[test]
    fn national_display_form() {
        assert_eq!(
            Phone::parse("84912345678").unwrap().national(),
            "0912 345 678"
        );
    }
}
