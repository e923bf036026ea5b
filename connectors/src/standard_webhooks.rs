//! Standard Webhooks (<https://www.standardwebhooks.com>, v1 symmetric scheme), used both ways:
//! tongdai signs the orders it pushes to fulfillment, and verifies what fulfillment and external
//! shops send back. Headers `webhook-id` (constant across retries), `webhook-timestamp` (unix
//! seconds of the attempt) and `webhook-signature` (a space-separated list of `v1,<base64>`
//! entries); the signature is HMAC-SHA256 over `id.timestamp.body` with the secret's bytes
//! (`whsec_` + standard base64).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::verify::constant_time_eq;

/// The receivers' tolerance between a delivery's timestamp and now (the reference libraries').
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// Header names.
pub const ID: &str = "webhook-id";
/// Header names.
pub const TIMESTAMP: &str = "webhook-timestamp";
/// Header names.
pub const SIGNATURE: &str = "webhook-signature";

/// A signing secret. Shown to people as `whsec_<base64>`; never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A secret that is not `whsec_` + base64 of 24 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret is whsec_ followed by the base64 of 24 to 64 random bytes")]
pub struct BadSecret;

impl Secret {
    /// A secret made of these bytes (24 to 64 of them).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Secret, BadSecret> {
        if (24..=64).contains(&bytes.len()) {
            Ok(Secret(bytes))
        } else {
            Err(BadSecret)
        }
    }

    /// Parse `whsec_…` (the prefix is optional, padding too, as the reference libraries allow).
    pub fn parse(s: &str) -> Result<Secret, BadSecret> {
        let b64 = s.trim().strip_prefix("whsec_").unwrap_or(s.trim());
        let bytes = STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64))
            .map_err(|_| BadSecret)?;
        Secret::from_bytes(bytes)
    }

    /// `whsec_` + padded standard base64: what every reference library accepts.
    pub fn expose(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    /// The raw bytes (to encrypt at rest).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The `webhook-signature` value for one message attempt: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }
}

/// The three headers of one attempt, signed with every secret given (two during a rotation).
pub fn headers(
    secrets: &[&Secret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> [(String, String); 3] {
    let signature = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    [
        (ID.to_owned(), id.to_owned()),
        (TIMESTAMP.to_owned(), timestamp.to_string()),
        (SIGNATURE.to_owned(), signature),
    ]
}

/// What a verified request says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `webhook-id`: the sender's message id, the same on every retry (dedupe on it).
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
}

fn header<'a>(h: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    h.get(name)
        .ok_or(VerifyError::MissingSignature(name))?
        .to_str()
        .map_err(|_| VerifyError::MalformedSignature(name))
}

/// Verify a request signed with `secret`: the headers are present and well formed, the
/// timestamp is within [`TOLERANCE_SECONDS`] of `now` (unix seconds), and one `v1` entry of
/// the signature list matches (constant time; other versions are skipped).
pub fn verify(
    secret: &Secret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Delivery, VerifyError> {
    let id = header(headers, ID)?;
    let ts = header(headers, TIMESTAMP)?;
    let sigs = header(headers, SIGNATURE)?;
    if id.is_empty() || id.len() > 256 || id.contains('.') {
        return Err(VerifyError::MalformedSignature(ID));
    }
    let timestamp: i64 = ts
        .trim()
        .parse()
        .map_err(|_| VerifyError::MalformedSignature(TIMESTAMP))?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::StaleTimestamp);
    }
    let expected = secret.mac(id, timestamp, body);
    let mut any_v1 = false;
    for entry in sigs.split(' ').filter(|e| !e.is_empty()) {
        let Some((version, sig)) = entry.split_once(',') else {
            continue;
        };
        if version != "v1" {
            continue;
        }
        any_v1 = true;
        if let Ok(given) = STANDARD.decode(sig)
            && constant_time_eq(&given, &expected)
        {
            return Ok(Delivery {
                id: id.to_owned(),
                timestamp,
            });
        }
    }
    if any_v1 {
        Err(VerifyError::BadSignature)
    } else {
        Err(VerifyError::MalformedSignature(SIGNATURE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ID, id.parse().unwrap());
        h.insert(TIMESTAMP, ts.to_string().parse().unwrap());
        h.insert(SIGNATURE, sig.parse().unwrap());
        h
    }

    // Published vectors (commerce.md §0: V2, V3, V4) and the derived hub-style V11.
    const V2_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn signs_the_published_vectors() {
        let s = Secret::parse(V2_SECRET).unwrap();
        assert_eq!(
            s.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let s3 = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            s3.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
        assert_eq!(
            s.sign(
                "msg_hub_0001",
                1736910245,
                br#"{"type":"order.confirmed","timestamp":"2025-01-15T03:04:05Z","data":{"order_id":"ord_01JH0000000000000000000000"}}"#
            ),
            "v1,U5jXqZp1E1p0/V/XpAhewlOfT2Y+6rSQEMnugwZPoPk="
        );
    }

    #[test]
    fn verifies_good_and_refuses_tampered_stale_and_malformed() {
        let s = Secret::parse(V2_SECRET).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let ok = verify(&s, &hm(id, 1614265330, good), body, 1614265330 + 299).unwrap();
        assert_eq!(ok.id, id);
        // V4: last character changed.
        let bad = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
        assert_eq!(
            verify(&s, &hm(id, 1614265330, bad), body, 1614265330),
            Err(VerifyError::BadSignature)
        );
        // One valid entry among others (rotation, future versions) is enough.
        let multi = format!("v2,abc {bad} {good}");
        assert!(verify(&s, &hm(id, 1614265330, &multi), body, 1614265330).is_ok());
        assert_eq!(
            verify(&s, &hm(id, 1614265330, good), body, 1614265330 + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&s, &hm(id, 1614265330, good), body, 1614265330 - 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&s, &hm(id, 1614265330, good), b"{\"test\": 1}", 1614265330),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(&s, &HeaderMap::new(), body, 0),
            Err(VerifyError::MissingSignature(ID))
        );
        assert_eq!(
            verify(&s, &hm(id, 1614265330, "v2,abc"), body, 1614265330),
            Err(VerifyError::MalformedSignature(SIGNATURE))
        );
    }

    #[test]
    fn secrets_parse_with_or_without_prefix_and_padding() {
        let a = Secret::parse(V2_SECRET).unwrap();
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            a
        );
        assert_eq!(Secret::parse(&a.expose()).unwrap(), a);
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err());
        assert!(Secret::parse("whsec_!!!").is_err());
    }
}
