//! Lazada's two signatures (`shared/specs/commerce.md` §2.2, §2.5.2):
//!
//! - **API calls**, exactly as the official SDK (`lazop-sdk` `base.py`) signs them: every
//!   parameter but `sign` (system ones — `app_key`, `sign_method`, `timestamp` in
//!   milliseconds, `partner_id`, `access_token` — and the API's own), sorted by name in byte
//!   order, concatenated as `name1value1name2value2…`, prefixed with the API path
//!   (`/order/get`); `HEX_UPPER(HMAC-SHA256(key = app_secret, msg = that))`.
//! - **Push deliveries**: header `Authorization` (no prefix) =
//!   `hex(HMAC-SHA256(key = app_secret, msg = app_key ‖ raw body))`. The hex case Lazada sends
//!   is UNVERIFIED, so it is compared case-insensitively, by decoding it, in constant time.
//!
//! Keys are the app secret's UTF-8 bytes, never hex-decoded.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::VerifyError;
use crate::verify::constant_time_eq;

/// The only `sign_method` tongdai uses (the SDK's default).
pub const SIGN_METHOD: &str = "sha256";
/// The `partner_id` the official Python SDK sends and signs. Optional for Lazada, but one
/// integration reports `MissingPartner` without it (UNVERIFIED); sending it is harmless since
/// it is signed like every other parameter.
pub const SDK_PARTNER_ID: &str = "lazop-sdk-python-20181207";
/// The push signature header.
pub const PUSH_SIGNATURE_HEADER: &str = "Authorization";

fn hmac(secret: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The string the SDK signs: the API path, then every parameter but `sign` as `namevalue`,
/// sorted by name in byte order. The path gets a leading `/` if it lacks one.
pub fn string_to_sign<'a, I>(api: &str, params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let sorted: BTreeMap<&str, &str> = params.into_iter().filter(|(k, _)| *k != "sign").collect();
    let mut out = String::with_capacity(api.len() + 16 * sorted.len());
    if !api.starts_with('/') {
        out.push('/');
    }
    out.push_str(api);
    for (k, v) in sorted {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

/// HMAC-SHA256 of `base` with `app_secret`, as UPPERCASE hex (the SDK's `sign` of a prepared
/// string-to-sign).
pub fn sign_string(app_secret: &str, base: &str) -> String {
    hex::encode_upper(hmac(app_secret, &[base.as_bytes()]))
}

/// The `sign` parameter of a call to `api` with these parameters (system and business ones;
/// a `sign` among them is ignored).
pub fn sign<'a, I>(app_secret: &str, api: &str, params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    sign_string(app_secret, &string_to_sign(api, params))
}

/// Every parameter of a signed call to `api`: the business `params`, the system parameters
/// (`app_key`, `sign_method`, `timestamp` in milliseconds, `partner_id`, and `access_token`
/// when given) and `sign`, ready to send as query string or form.
pub fn signed_params(
    app_key: &str,
    app_secret: &str,
    api: &str,
    access_token: Option<&str>,
    timestamp_ms: i64,
    params: &[(String, String)],
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "sign")
        .cloned()
        .collect();
    let mut system = vec![
        ("app_key", app_key.to_owned()),
        ("sign_method", SIGN_METHOD.to_owned()),
        ("timestamp", timestamp_ms.to_string()),
        ("partner_id", SDK_PARTNER_ID.to_owned()),
    ];
    if let Some(t) = access_token {
        system.push(("access_token", t.to_owned()));
    }
    for (k, v) in system {
        all.retain(|(name, _)| name != k);
        all.push((k.to_owned(), v));
    }
    let sign = sign(
        app_secret,
        api,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    all.push(("sign".to_owned(), sign));
    all
}

/// The push `Authorization` value Lazada sends for `body`: lowercase hex of
/// HMAC-SHA256(app_secret, app_key ‖ body).
pub fn push_signature(app_key: &str, app_secret: &str, body: &[u8]) -> String {
    hex::encode(hmac(app_secret, &[app_key.as_bytes(), body]))
}

/// Check a push's `Authorization` value against `body`: hex of either case, 32 bytes,
/// compared in constant time.
pub fn verify_push(
    app_key: &str,
    app_secret: &str,
    body: &[u8],
    header: Option<&[u8]>,
) -> Result<(), VerifyError> {
    let raw = header.ok_or(VerifyError::MissingSignature(PUSH_SIGNATURE_HEADER))?;
    let malformed = || VerifyError::MalformedSignature(PUSH_SIGNATURE_HEADER);
    let text = std::str::from_utf8(raw).map_err(|_| malformed())?.trim();
    let given = hex::decode(text).map_err(|_| malformed())?;
    if given.len() != 32 {
        return Err(malformed());
    }
    let want = hmac(app_secret, &[app_key.as_bytes(), body]);
    if constant_time_eq(&want, &given) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §2.5.4: body L1, byte-exact.
    const L1: &str = r#"{"seller_id":"1234567","message_type":0,"data":{"order_status":"unpaid","trade_order_id":"260422900198363","trade_order_line_id":"260422900298363","status_update_time":1603698638},"timestamp":1603766859530,"site":"lazada_vn"}"#;
    const V10: &str = "b0cfd0349e915667babf3c35e2335fb09653527421c46a94bd9e70e874c16322";

    #[test]
    fn v1_published_order_get_vector() {
        let params = [
            ("app_key", "123456"),
            ("access_token", "test"),
            ("timestamp", "1517820392000"),
            ("sign_method", "sha256"),
            ("order_id", "1234"),
        ];
        let base = string_to_sign("/order/get", params);
        assert_eq!(
            base,
            "/order/getaccess_tokentestapp_key123456order_id1234sign_methodsha256timestamp1517820392000"
        );
        assert_eq!(
            sign("helloworld", "/order/get", params),
            "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
        );
        // `sign` itself never takes part, and a path without its slash gets one.
        let mut with_sign = params.to_vec();
        with_sign.push(("sign", "whatever"));
        assert_eq!(string_to_sign("order/get", with_sign), base);
    }

    #[test]
    fn v9_sdk_style_with_partner_id() {
        let business = [
            ("created_after", "2024-01-01T00:00:00+07:00"),
            ("limit", "100"),
            ("offset", "0"),
            ("status", "pending"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let all = signed_params(
            "123456",
            "helloworld",
            "/orders/get",
            Some("test"),
            1_517_820_392_000,
            &business,
        );
        let base = string_to_sign(
            "/orders/get",
            all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        assert_eq!(
            base,
            "/orders/getaccess_tokentestapp_key123456created_after2024-01-01T00:00:00+07:00limit100offset0partner_idlazop-sdk-python-20181207sign_methodsha256statuspendingtimestamp1517820392000"
        );
        let sign = all
            .iter()
            .find(|(k, _)| k == "sign")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            sign,
            Some("78263B9251B56EC96BBEE3776E522ABD046F95CC616B7622D290A24C040E7C1E")
        );
    }

    #[test]
    fn names_sort_in_byte_order_not_case_folded() {
        // 'Z' (0x5A) sorts before 'a' (0x61); '_' (0x5F) between them.
        let base = string_to_sign("/x", [("a", "1"), ("Z", "2"), ("_b", "3")]);
        assert_eq!(base, "/xZ2_b3a1");
    }

    #[test]
    fn token_calls_are_signed_without_access_token() {
        let all = signed_params(
            "k",
            "s",
            "/auth/token/create",
            None,
            1,
            &[("code".to_owned(), "c".to_owned())],
        );
        assert!(all.iter().all(|(k, _)| k != "access_token"));
        let names: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
        for n in [
            "app_key",
            "sign_method",
            "timestamp",
            "partner_id",
            "code",
            "sign",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
    }

    #[test]
    fn v10_push_signature() {
        assert_eq!(push_signature("123456", "helloworld", L1.as_bytes()), V10);
        let ok = |h: &str| verify_push("123456", "helloworld", L1.as_bytes(), Some(h.as_bytes()));
        assert_eq!(ok(V10), Ok(()));
        assert_eq!(ok(&V10.to_uppercase()), Ok(()));
        assert_eq!(ok(&format!(" {V10} ")), Ok(()));
    }

    #[test]
    fn push_signature_refusals() {
        let body = L1.as_bytes();
        let check =
            |h: Option<&str>| verify_push("123456", "helloworld", body, h.map(str::as_bytes));
        assert_eq!(
            check(None),
            Err(VerifyError::MissingSignature(PUSH_SIGNATURE_HEADER))
        );
        for garbled in [
            "",
            "zz",
            &V10[..62],
            &format!("{V10}00"),
            &format!("sha256={V10}"),
        ] {
            assert_eq!(
                check(Some(garbled)),
                Err(VerifyError::MalformedSignature(PUSH_SIGNATURE_HEADER)),
                "{garbled:?}"
            );
        }
        let mut forged = V10.to_owned();
        forged.replace_range(63.., "3");
        assert_eq!(check(Some(&forged)), Err(VerifyError::BadSignature));
        // The right hex over another body, or with another key, does not pass.
        let other = format!("{} ", L1);
        assert_eq!(
            verify_push(
                "123456",
                "helloworld",
                other.as_bytes(),
                Some(V10.as_bytes())
            ),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_push("654321", "helloworld", body, Some(V10.as_bytes())),
            Err(VerifyError::BadSignature)
        );
    }
}
