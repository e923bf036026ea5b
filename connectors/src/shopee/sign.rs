//! Shopee Open Platform v2 signatures (`shared/specs/commerce.md` §1.2, §1.5.2): the `sign`
//! query parameter of every API call and the `Authorization` header of a push. The partner
//! key is used as UTF-8 text (never hex-decoded) and every digest is lowercase hex
//! HMAC-SHA256. Only the path and the common parameters are signed, never the body or the
//! other query parameters.

use crate::error::VerifyError;
use crate::verify::{constant_time_eq, hmac_sha256_hex};

/// The header a push carries its signature in.
pub const PUSH_SIGNATURE_HEADER: &str = "Authorization";

/// Which of Shopee's three API types a call is: it decides what the base string holds.
#[derive(Clone, Copy)]
pub enum ApiScope<'a> {
    /// Authorization, tokens, push and `public.*`: `partner_id + path + timestamp`.
    Public,
    /// A shop's data: `partner_id + path + timestamp + access_token + shop_id`.
    Shop {
        /// The shop's access token.
        access_token: &'a str,
        /// The shop id, as decimal digits.
        shop_id: u64,
    },
    /// A merchant's data: `partner_id + path + timestamp + access_token + merchant_id`.
    Merchant {
        /// The merchant's access token.
        access_token: &'a str,
        /// The merchant id, as decimal digits.
        merchant_id: u64,
    },
}

impl std::fmt::Debug for ApiScope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiScope::Public => f.write_str("Public"),
            ApiScope::Shop { shop_id, .. } => write!(f, "Shop({shop_id})"),
            ApiScope::Merchant { merchant_id, .. } => write!(f, "Merchant({merchant_id})"),
        }
    }
}

/// The base string of a call, concatenated with no separators in the documented order.
/// `timestamp` is Unix seconds; `api_path` has no host, e.g. `/api/v2/shop/get_shop_info`.
pub fn base_string(partner_id: u64, api_path: &str, timestamp: i64, scope: ApiScope<'_>) -> String {
    let mut base = format!("{partner_id}{api_path}{timestamp}");
    match scope {
        ApiScope::Public => {}
        ApiScope::Shop {
            access_token,
            shop_id,
        } => {
            base.push_str(access_token);
            base.push_str(&shop_id.to_string());
        }
        ApiScope::Merchant {
            access_token,
            merchant_id,
        } => {
            base.push_str(access_token);
            base.push_str(&merchant_id.to_string());
        }
    }
    base
}

/// The `sign` query parameter: lowercase hex HMAC-SHA256 of the base string with the
/// partner key as UTF-8 text.
pub fn sign(
    partner_key: &str,
    partner_id: u64,
    api_path: &str,
    timestamp: i64,
    scope: ApiScope<'_>,
) -> String {
    sign_base(
        partner_key,
        &base_string(partner_id, api_path, timestamp, scope),
    )
}

/// Lowercase hex HMAC-SHA256 of an already built base string.
pub fn sign_base(partner_key: &str, base: &str) -> String {
    hmac_sha256_hex(partner_key.as_bytes(), base.as_bytes())
}

/// The `Authorization` header Shopee sends with a push of `body` to `callback_url`:
/// hex HMAC-SHA256 of `callback_url + "|" + body`, over the raw bytes.
pub fn push_authorization(partner_key: &str, callback_url: &str, body: &[u8]) -> String {
    let mut msg = Vec::with_capacity(callback_url.len() + 1 + body.len());
    msg.extend_from_slice(callback_url.as_bytes());
    msg.push(b'|');
    msg.extend_from_slice(body);
    hmac_sha256_hex(partner_key.as_bytes(), &msg)
}

/// Check a push's `Authorization` value against `body` and the configured callback URL, in
/// constant time. The value must be the bare 64-digit hex digest the official doc describes
/// (surrounding whitespace ignored, either case): a `SHA256 ` prefix, which only a
/// third-party SDK strips and the official doc does not mention, is refused as malformed
/// rather than guessed at.
pub fn verify_push(
    partner_key: &str,
    callback_url: &str,
    body: &[u8],
    header: Option<&[u8]>,
) -> Result<(), VerifyError> {
    let value = header.ok_or(VerifyError::MissingSignature(PUSH_SIGNATURE_HEADER))?;
    let malformed = || VerifyError::MalformedSignature(PUSH_SIGNATURE_HEADER);
    let text = std::str::from_utf8(value).map_err(|_| malformed())?.trim();
    if text.is_empty() {
        return Err(VerifyError::MissingSignature(PUSH_SIGNATURE_HEADER));
    }
    let given = hex::decode(text).map_err(|_| malformed())?;
    if given.len() != 32 {
        return Err(malformed());
    }
    let want = hex::decode(push_authorization(partner_key, callback_url, body))
        .map_err(|_| malformed())?;
    if constant_time_eq(&want, &given) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "hub-test-partner-key";
    /// Body B1 of §1.5.6, byte-exact, no trailing newline.
    const B1: &str = r#"{"msg_id":"64ca21a145e29bda3a6e31203c800e00","data":{"completed_scenario":null,"items":[],"ordersn":"251214B9XAB0ST","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}"#;
    const V8: &str = "32c3e209226fd00ee462d752c854a0b7a2c96cba436fc6fb535f9f18082b1cc7";
    const CALLBACK: &str = "https://hub.example.vn/webhooks/shopee";

    #[test]
    fn v5_shop_api_sign_matches_the_vector() {
        let scope = ApiScope::Shop {
            access_token: "59777174636562737266615546704c6d",
            shop_id: 14_701_711,
        };
        let base = base_string(
            2_001_887,
            "/api/v2/shop/get_shop_info",
            1_655_714_431,
            scope,
        );
        assert_eq!(
            base,
            "2001887/api/v2/shop/get_shop_info165571443159777174636562737266615546704c6d14701711"
        );
        assert_eq!(
            sign(
                KEY,
                2_001_887,
                "/api/v2/shop/get_shop_info",
                1_655_714_431,
                scope
            ),
            "c1f509cdb758fa3b00f73044c4313bbca4f3425b9c7f00a492f398524d16a627"
        );
    }

    #[test]
    fn v6_and_v7_public_api_signs_match_the_vectors() {
        let ts = 1_655_714_431;
        assert_eq!(
            base_string(2_001_887, "/api/v2/shop/auth_partner", ts, ApiScope::Public),
            "2001887/api/v2/shop/auth_partner1655714431"
        );
        assert_eq!(
            sign(
                KEY,
                2_001_887,
                "/api/v2/shop/auth_partner",
                ts,
                ApiScope::Public
            ),
            "868f7517b24b5fc43b5b19dfc1315990115765a5b477b5e8f0073cc0b61054b0"
        );
        assert_eq!(
            sign(
                KEY,
                2_001_887,
                "/api/v2/auth/token/get",
                ts,
                ApiScope::Public
            ),
            "13d3ca0386478cbf3c75457cf6d055fddff05bd5dec61aa79574b78c61135dc8"
        );
    }

    #[test]
    fn merchant_base_string_ends_with_token_and_merchant_id() {
        let scope = ApiScope::Merchant {
            access_token: "tok",
            merchant_id: 42,
        };
        assert_eq!(base_string(1, "/p", 2, scope), "1/p2tok42");
    }

    #[test]
    fn v8_push_authorization_matches_the_vector_and_verifies() {
        assert_eq!(push_authorization(KEY, CALLBACK, B1.as_bytes()), V8);
        assert_eq!(
            verify_push(KEY, CALLBACK, B1.as_bytes(), Some(V8.as_bytes())),
            Ok(())
        );
        let upper = V8.to_ascii_uppercase();
        assert_eq!(
            verify_push(KEY, CALLBACK, B1.as_bytes(), Some(upper.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn push_verification_refuses_forged_missing_and_garbled_headers() {
        let body = B1.as_bytes();
        let mut forged = V8.to_owned();
        forged.replace_range(63.., "8");
        assert_eq!(
            verify_push(KEY, CALLBACK, body, Some(forged.as_bytes())),
            Err(VerifyError::BadSignature)
        );
        // The same signature for another URL (a proxy rewriting the host) does not verify.
        assert_eq!(
            verify_push(
                KEY,
                "http://hub.example.vn/webhooks/shopee",
                body,
                Some(V8.as_bytes())
            ),
            Err(VerifyError::BadSignature)
        );
        // A changed byte in the body does not verify.
        let tampered = B1.replace("READY_TO_SHIP", "READY_TO_SHIQ");
        assert_eq!(
            verify_push(KEY, CALLBACK, tampered.as_bytes(), Some(V8.as_bytes())),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_push(KEY, CALLBACK, body, None),
            Err(VerifyError::MissingSignature(PUSH_SIGNATURE_HEADER))
        );
        assert_eq!(
            verify_push(KEY, CALLBACK, body, Some(b"  ")),
            Err(VerifyError::MissingSignature(PUSH_SIGNATURE_HEADER))
        );
        for garbled in [
            format!("SHA256 {V8}"),
            "zz".repeat(32),
            V8[..62].to_owned(),
            format!("{V8}00"),
        ] {
            assert_eq!(
                verify_push(KEY, CALLBACK, body, Some(garbled.as_bytes())),
                Err(VerifyError::MalformedSignature(PUSH_SIGNATURE_HEADER)),
                "{garbled}"
            );
        }
        assert_eq!(
            verify_push(KEY, CALLBACK, body, Some(&[0xff, 0xfe][..])),
            Err(VerifyError::MalformedSignature(PUSH_SIGNATURE_HEADER))
        );
    }
}
