//! The `Verified` typestate: the only way to get a body the hub may store as accepted is to
//! run it through [`verify`], so an unverified webhook is unrepresentable downstream.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::error::VerifyError;
use crate::traits::WebhookInbound;
use crate::types::{InboundRequest, Platform};

/// A webhook body whose signature checked out, with the key that dedupes its deliveries.
#[derive(Debug, Clone)]
pub struct Verified {
    platform: Platform,
    event_key: String,
    body: Bytes,
}

impl Verified {
    /// The platform that signed it.
    pub fn platform(&self) -> Platform {
        self.platform
    }
    /// Dedupe key: the connector's own, or `sha256:<hex of body>`.
    pub fn event_key(&self) -> &str {
        &self.event_key
    }
    /// The raw bytes, exactly as received.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// Verify `req` with `inbound` and, on success, wrap `body` (the same bytes as `req.body`) as
/// [`Verified`].
pub fn verify(
    platform: Platform,
    inbound: &dyn WebhookInbound,
    req: &InboundRequest<'_>,
    body: Bytes,
) -> Result<Verified, VerifyError> {
    debug_assert_eq!(req.body, &body[..]);
    inbound.verify(req)?;
    let event_key = inbound
        .event_key(req)
        .unwrap_or_else(|| body_hash_key(&body));
    Ok(Verified {
        platform,
        event_key,
        body,
    })
}

/// The default dedupe key: a hash of the raw bytes. Platforms resend identical bytes on retry.
pub fn body_hash_key(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

/// Lowercase hex HMAC-SHA256 of `msg` with `key`.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time equality of two byte strings (length may leak; content does not).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
