//! Facebook Pages: Messenger webhooks (`X-Hub-Signature-256`), the subscription handshake and
//! the Send API. Contract: `shared/specs/social.md` §2. Wire types and their conversion into
//! normalized events live in [`wire`]; this module holds the trait impls and the HTTP calls.

#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod wire;

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha1::Sha1;
use sha2::Sha256;
use url::Url;

use crate::error::{ConnectorError, ParseError, VerifyError};
use crate::traits::{Connector, Messaging, WebhookInbound};
use crate::types::{
    AccountCtx, HandshakeReply, HttpCtx, InboundRequest, NormalizedEvent, OutboundText, Platform,
    SendReceipt,
};
use crate::verify::{constant_time_eq, hmac_sha256_hex};

/// Header carrying [`OutboundText::idempotency_key`] (the IETF `Idempotency-Key` draft). Meta
/// ignores it; our sandbox honours it.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Header carrying `sha256=<hex>`, the signature Meta sends today.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// Legacy header carrying `sha1=<hex>`; checked only when [`SIGNATURE_HEADER`] is absent.
pub const LEGACY_SIGNATURE_HEADER: &str = "X-Hub-Signature";
/// Meta's Business Use Case usage header; its `estimated_time_to_regain_access` is minutes.
pub const BUC_USAGE_HEADER: &str = "X-Business-Use-Case-Usage";

/// Graph error codes that mean "throttled" (§2.9): app, user, page, custom and application
/// level limits.
const RATE_LIMIT_CODES: [i64; 5] = [4, 17, 32, 613, 341];
/// How much of a non-JSON error body is kept in the error message.
const ERROR_SNIPPET_CHARS: usize = 200;

/// App-level Facebook settings (`TONGDAI_FACEBOOK_*`).
#[derive(Debug, Clone, Default)]
pub struct FacebookConfig {
    /// The Meta app id (used to recognise echoes of our own sends).
    pub app_id: Option<String>,
    /// The Meta app secret: key of `X-Hub-Signature-256` and of `appsecret_proof`.
    pub app_secret: Option<String>,
    /// The verify token Meta echoes in the subscription handshake.
    pub verify_token: Option<String>,
}

/// The Meta connector: one implementation for Facebook Pages and Instagram professional
/// accounts (same envelope, same app-secret signature), built once per platform.
pub struct Facebook {
    cfg: FacebookConfig,
    platform: Platform,
}

impl Facebook {
    /// The Facebook Page connector, from app-level settings.
    pub fn new(cfg: FacebookConfig) -> Self {
        Facebook {
            cfg,
            platform: Platform::Facebook,
        }
    }

    /// The Instagram connector (Instagram API with Facebook Login), from the same settings.
    pub fn instagram(cfg: FacebookConfig) -> Self {
        Facebook {
            cfg,
            platform: Platform::Instagram,
        }
    }

    /// Whether an echo's `app_id` is this app's, i.e. the echoed message was sent through
    /// tongdai rather than typed in Meta's own inbox. `false` when no app id is configured.
    pub fn is_own_app(&self, app_id: Option<&str>) -> bool {
        match (self.cfg.app_id.as_deref(), app_id) {
            (Some(ours), Some(theirs)) if !ours.is_empty() => {
                constant_time_eq(ours.as_bytes(), theirs.as_bytes())
            }
            _ => false,
        }
    }

    fn app_secret(&self) -> Option<&str> {
        self.cfg.app_secret.as_deref().filter(|s| !s.is_empty())
    }

    /// `{base}/{page_id}/messages?access_token=…[&appsecret_proof=…]`.
    fn messages_url(
        &self,
        base_url: &str,
        account: &AccountCtx<'_>,
    ) -> Result<Url, ConnectorError> {
        let mut url = Url::parse(base_url)
            .map_err(|e| ConnectorError::Invalid(format!("bad Graph API base URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ConnectorError::Invalid("Graph API base URL cannot have a path".into()))?
            .pop_if_empty()
            .push(account.external_id)
            .push("messages");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("access_token", account.access_token);
            if let Some(secret) = self.app_secret() {
                q.append_pair(
                    "appsecret_proof",
                    &appsecret_proof(secret, account.access_token),
                );
            }
        }
        Ok(url)
    }
}

/// `sha256=<lowercase hex HMAC-SHA256(app_secret, body)>`: the `X-Hub-Signature-256` value
/// Meta would send for `body`.
pub fn signature_header(app_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(app_secret.as_bytes(), body))
}

/// `sha1=<lowercase hex HMAC-SHA1(app_secret, body)>`: the legacy `X-Hub-Signature` value.
pub fn legacy_signature_header(app_secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// `appsecret_proof` for a Graph API call: lowercase hex HMAC-SHA256 with the app secret as key
/// and the access token as message (§2.8.6).
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    hmac_sha256_hex(app_secret.as_bytes(), access_token.as_bytes())
}

impl Connector for Facebook {
    fn platform(&self) -> Platform {
        self.platform
    }
    fn account_platforms(&self) -> Vec<Platform> {
        vec![Platform::Facebook, Platform::Instagram]
    }
    fn webhook(&self) -> Option<&dyn WebhookInbound> {
        Some(self)
    }
    fn messaging(&self) -> Option<&dyn Messaging> {
        Some(self)
    }
}

impl WebhookInbound for Facebook {
    fn handshake(&self, req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>> {
        if req.method != Method::GET {
            return None;
        }
        let mut mode = None;
        let mut token = None;
        let mut challenge = None;
        for (k, v) in url::form_urlencoded::parse(req.query?.as_bytes()) {
            match &*k {
                "hub.mode" => mode = Some(v.into_owned()),
                "hub.verify_token" => token = Some(v.into_owned()),
                "hub.challenge" => challenge = Some(v.into_owned()),
                _ => {}
            }
        }
        if mode.is_none() && token.is_none() && challenge.is_none() {
            return None;
        }
        // An empty configured token would match an empty `hub.verify_token`: treat it as unset.
        let expected = self.cfg.verify_token.as_deref().filter(|t| !t.is_empty());
        let ok = match (expected, mode.as_deref(), token.as_deref()) {
            (Some(expected), Some("subscribe"), Some(given)) => {
                constant_time_eq(expected.as_bytes(), given.as_bytes())
            }
            _ => false,
        };
        Some(match (ok, challenge) {
            (true, Some(challenge)) => Ok(HandshakeReply {
                status: 200,
                content_type: "text/plain",
                body: challenge,
            }),
            _ => Err(VerifyError::BadVerifyToken),
        })
    }

    fn verify(&self, req: &InboundRequest<'_>) -> Result<(), VerifyError> {
        let secret = self
            .app_secret()
            .ok_or(VerifyError::NotConfigured("facebook"))?;
        // The signature covers the raw bytes as sent (non-ASCII `\u`-escaped): never re-serialize.
        if let Some(value) = req.headers.get(SIGNATURE_HEADER) {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts any key length");
            mac.update(req.body);
            return check_signature(value, "sha256=", SIGNATURE_HEADER, 32, mac);
        }
        if let Some(value) = req.headers.get(LEGACY_SIGNATURE_HEADER) {
            let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts any key length");
            mac.update(req.body);
            return check_signature(value, "sha1=", LEGACY_SIGNATURE_HEADER, 20, mac);
        }
        Err(VerifyError::MissingSignature(SIGNATURE_HEADER))
    }

    fn account_hints(&self, body: &[u8]) -> Vec<String> {
        wire::entry_ids(body)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
        wire::parse_body(body)
    }
}

/// Check `<prefix><hex>` in `value` against `mac` (already fed the body), in constant time.
/// Hex is accepted in either case.
fn check_signature<M: Mac>(
    value: &HeaderValue,
    prefix: &str,
    header: &'static str,
    len: usize,
    mac: M,
) -> Result<(), VerifyError> {
    let malformed = || VerifyError::MalformedSignature(header);
    let value = value.to_str().map_err(|_| malformed())?.trim();
    let hex_part = value
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &value[prefix.len()..])
        .ok_or_else(malformed)?;
    let given = hex::decode(hex_part).map_err(|_| malformed())?;
    if given.len() != len {
        return Err(malformed());
    }
    mac.verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)
}

#[async_trait]
impl Messaging for Facebook {
    async fn send_text(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundText<'_>,
    ) -> Result<SendReceipt, ConnectorError> {
        if account.access_token.is_empty() {
            return Err(ConnectorError::Invalid("no Page access token".into()));
        }
        if account.external_id.is_empty() {
            return Err(ConnectorError::Invalid("no Page id".into()));
        }
        if msg.recipient_external_id.is_empty() {
            return Err(ConnectorError::Invalid("no recipient PSID".into()));
        }
        if msg.text.is_empty() {
            return Err(ConnectorError::Invalid("empty message text".into()));
        }
        let url = self.messages_url(cx.base_url, account)?;
        // Outside the 24 h window only a human agent's reply may go out, tagged (§2.6).
        let (messaging_type, tag) = if msg.outside_standard_window {
            ("MESSAGE_TAG", Some("HUMAN_AGENT"))
        } else {
            ("RESPONSE", None)
        };
        let body = wire::SendTextRequest {
            recipient: wire::SendRecipient {
                id: msg.recipient_external_id,
            },
            messaging_type,
            tag,
            message: wire::SendTextMessage { text: msg.text },
        };
        let mut req = cx.http.post(url).json(&body);
        if let Some(key) = msg.idempotency_key {
            req = req.header(IDEMPOTENCY_HEADER, key);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        tracing::debug!(
            page_id = account.external_id,
            status,
            "facebook send api answered"
        );
        if (200..300).contains(&status) {
            let parsed: wire::SendResponse = serde_json::from_slice(&bytes).map_err(|e| {
                ConnectorError::Transport(format!(
                    "Send API answered {status} with invalid JSON: {e}"
                ))
            })?;
            return match parsed.message_id {
                Some(id) if !id.is_empty() => Ok(SendReceipt {
                    external_message_id: id,
                }),
                // The message may have gone out: not retryable, or the customer could get it twice.
                _ => Err(ConnectorError::Api {
                    status,
                    code: None,
                    subcode: None,
                    message: "Send API answered without message_id".into(),
                    transient: false,
                }),
            };
        }
        Err(graph_error(status, &headers, &bytes, account.access_token))
    }
}

/// Map a failed Graph API answer to a [`ConnectorError`] (§2.8.7, §2.9). `token` is scrubbed
/// from every message.
pub fn graph_error(status: u16, headers: &HeaderMap, body: &[u8], token: &str) -> ConnectorError {
    let scrub = |s: &str| {
        if token.is_empty() {
            s.to_owned()
        } else {
            s.replace(token, "<redacted>")
        }
    };
    let Ok(wire::GraphErrorBody { error }) = serde_json::from_slice::<wire::GraphErrorBody>(body)
    else {
        let text = String::from_utf8_lossy(body);
        let snippet: String = text.trim().chars().take(ERROR_SNIPPET_CHARS).collect();
        let message = scrub(&format!("HTTP {status}: {snippet}"));
        if status == 429 {
            return ConnectorError::RateLimited {
                retry_after: retry_after(headers),
                message,
            };
        }
        return ConnectorError::Api {
            status,
            code: None,
            subcode: None,
            message,
            transient: status >= 500,
        };
    };
    let mut message = scrub(
        error
            .message
            .as_deref()
            .unwrap_or("unknown Graph API error"),
    );
    if let Some(trace) = &error.fbtrace_id {
        message.push_str(&format!(" (fbtrace_id {trace})"));
    }
    let oauth = error.kind.as_deref() == Some("OAuthException");
    match error.code {
        Some(190) => return ConnectorError::Unauthorized(message),
        Some(102) if oauth => return ConnectorError::Unauthorized(message),
        _ => {}
    }
    if status == 429 || error.code.is_some_and(|c| RATE_LIMIT_CODES.contains(&c)) {
        return ConnectorError::RateLimited {
            retry_after: retry_after(headers),
            message,
        };
    }
    ConnectorError::Api {
        status,
        code: error.code,
        subcode: error.error_subcode,
        transient: error.code == Some(2) || status >= 500,
        message,
    }
}

/// How long Meta asks us to wait: the largest `estimated_time_to_regain_access` (minutes) in
/// `X-Business-Use-Case-Usage`, else a `Retry-After` in seconds. `None` when neither says.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let buc = headers
        .get(BUC_USAGE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .and_then(|v| max_regain_minutes(&v));
    if let Some(minutes) = buc.filter(|m| *m > 0.0) {
        return Some(Duration::from_secs_f64(minutes * 60.0));
    }
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

/// The largest `estimated_time_to_regain_access` anywhere in a usage header, however nested.
fn max_regain_minutes(v: &serde_json::Value) -> Option<f64> {
    use serde_json::Value;
    let own = match v {
        Value::Object(map) => map
            .get("estimated_time_to_regain_access")
            .and_then(|m| match m {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }),
        _ => None,
    };
    let nested: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Object(map) => Box::new(map.values()),
        Value::Array(items) => Box::new(items.iter()),
        _ => Box::new(std::iter::empty()),
    };
    nested
        .filter_map(max_regain_minutes)
        .chain(own)
        .filter(|m| m.is_finite() && *m < 1.0e6)
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use http::HeaderName;

    use super::*;
    use crate::types::{Attachment, ContactRef, DeliveryReceipt, DeliveryState, InboundMessage};

    const SECRET: &str = "test_app_secret";
    /// §2.4 / §7.2 S1: 287 bytes exactly as Meta would send them.
    const TEXT_VI: &[u8] = include_bytes!("../../fixtures/facebook/text_vi.json");
    const TEXT_VI_SIGNATURE: &str =
        "sha256=3c291a0fe5555cf9fe359218d3274d0e0ecc84f6c8631eb20df8ab8739d8777d";

    fn facebook() -> Facebook {
        Facebook::new(FacebookConfig {
            app_id: Some("1517776481860111".into()),
            app_secret: Some(SECRET.into()),
            verify_token: Some("meatyhamhock".into()),
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).expect("test header value"),
            );
        }
        h
    }

    fn verify_with(fb: &Facebook, h: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        fb.verify(&InboundRequest {
            method: &Method::POST,
            headers: h,
            query: None,
            body,
        })
    }

    fn handshake_with(
        fb: &Facebook,
        method: Method,
        query: Option<&str>,
    ) -> Option<Result<HandshakeReply, VerifyError>> {
        fb.handshake(&InboundRequest {
            method: &method,
            headers: &HeaderMap::new(),
            query,
            body: b"",
        })
    }

    fn ms(millis: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(millis)
            .single()
            .expect("valid test timestamp")
    }

    fn parse(body: &str) -> Vec<NormalizedEvent> {
        facebook().parse(body.as_bytes()).expect("fixture parses")
    }

    fn messages(events: &[NormalizedEvent]) -> Vec<(&'static str, &InboundMessage)> {
        events
            .iter()
            .filter_map(|e| match e {
                NormalizedEvent::MessageReceived(m) => Some(("in", m)),
                NormalizedEvent::MessageEcho(m) => Some(("echo", m)),
                _ => None,
            })
            .collect()
    }

    // ---- §7 vectors -------------------------------------------------------------------------

    #[test]
    fn spec_vietnamese_body_is_287_bytes_and_signs_to_the_published_value() {
        assert_eq!(TEXT_VI.len(), 287);
        assert!(
            TEXT_VI.is_ascii(),
            "Meta escapes non-ASCII, so the signed bytes are ASCII"
        );
        assert_eq!(signature_header(SECRET, TEXT_VI), TEXT_VI_SIGNATURE);
        let h = headers(&[("x-hub-signature-256", TEXT_VI_SIGNATURE)]);
        assert_eq!(verify_with(&facebook(), &h, TEXT_VI), Ok(()));
    }

    #[test]
    fn published_xhub_vectors_match() {
        // §7.1 rows 1-3 (compwright/x-hub-signature).
        assert_eq!(
            legacy_signature_header("my_little_secret", b"random-signature-body"),
            "sha1=3dca279e731c97c38e3019a075dee9ebbd0a99f0"
        );
        assert_eq!(
            legacy_signature_header(
                "my_little_secret",
                "random-utf-8-あいうえお-body".as_bytes()
            ),
            "sha1=6eca52592dced2ec4b9c974538d6bb32e25ab897"
        );
        assert_eq!(
            signature_header("my_little_secret", br#"{ "id": "realtime_update" }"#),
            "sha256=2bee603b1bd2b873912ee43469a3b4a377ad70e7f64cbd58ccdbc67eb9a1b37f"
        );
        // Row 7 (same scheme as GitHub).
        assert_eq!(
            signature_header("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn appsecret_proof_matches_published_and_self_computed_vectors() {
        // §7.1 rows 4-6 (restfb) and §7.2 S4.
        assert_eq!(
            appsecret_proof("test", "test"),
            "88cd2108b5347d973cf39cdf9053d7dd42704876d8c9a9bd8e2d168259d3ddf7"
        );
        assert_eq!(
            appsecret_proof("PRIE7$oG2uS-Yf17kEnUEpi5hvW/#AFo", "helloWorld"),
            "cb064987988fcd658470d6a24f1c68f6d7982c80ab9efb08cb8c84ef88fd03e1"
        );
        assert_eq!(
            appsecret_proof("342314a43e", "Just a short Test message"),
            "322db18096e205ee3b3fef0a540e5566ac41f7631d5b84add759081814583897"
        );
        assert_eq!(
            appsecret_proof(SECRET, "EAAB_example_page_token"),
            "25e81d86a49419bb3024d63ae7cae94170514928b79be67ef1c52dfa8b271222"
        );
    }

    // ---- verify -----------------------------------------------------------------------------

    #[test]
    fn uppercase_hex_and_prefix_are_accepted() {
        let upper = TEXT_VI_SIGNATURE.to_ascii_uppercase();
        let h = headers(&[("x-hub-signature-256", &upper)]);
        assert_eq!(verify_with(&facebook(), &h, TEXT_VI), Ok(()));
    }

    #[test]
    fn signature_over_other_bytes_is_rejected() {
        let h = headers(&[("x-hub-signature-256", TEXT_VI_SIGNATURE)]);
        // The same JSON re-serialized with literal UTF-8 is different bytes: must not verify.
        let reserialized = serde_json::to_vec(
            &serde_json::from_slice::<serde_json::Value>(TEXT_VI).expect("json"),
        )
        .expect("serialize");
        assert_eq!(
            verify_with(&facebook(), &h, &reserialized),
            Err(VerifyError::BadSignature)
        );
        let mut tampered = TEXT_VI.to_vec();
        tampered[100] ^= 1;
        assert_eq!(
            verify_with(&facebook(), &h, &tampered),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn signature_with_another_secret_is_rejected() {
        let sig = signature_header("another_secret", TEXT_VI);
        let h = headers(&[("x-hub-signature-256", &sig)]);
        assert_eq!(
            verify_with(&facebook(), &h, TEXT_VI),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn missing_signature_is_rejected() {
        assert_eq!(
            verify_with(&facebook(), &HeaderMap::new(), TEXT_VI),
            Err(VerifyError::MissingSignature("X-Hub-Signature-256"))
        );
    }

    #[test]
    fn malformed_signatures_are_rejected_as_malformed() {
        let sig = TEXT_VI_SIGNATURE.trim_start_matches("sha256=");
        for bad in [
            sig.to_owned(),                   // no prefix
            format!("sha1={sig}"),            // wrong algorithm
            "sha256=".to_owned(),             // empty
            "sha256=zz".to_owned(),           // not hex
            format!("sha256={}", &sig[..63]), // odd length
            format!("sha256={}", &sig[..62]), // too short
            format!("sha256={sig}00"),        // too long
        ] {
            let h = headers(&[("x-hub-signature-256", &bad)]);
            assert_eq!(
                verify_with(&facebook(), &h, TEXT_VI),
                Err(VerifyError::MalformedSignature("X-Hub-Signature-256")),
                "{bad}"
            );
        }
    }

    #[test]
    fn legacy_sha1_is_checked_only_when_the_sha256_header_is_absent() {
        let sha1 = legacy_signature_header(SECRET, TEXT_VI);
        let h = headers(&[("x-hub-signature", &sha1)]);
        assert_eq!(verify_with(&facebook(), &h, TEXT_VI), Ok(()));

        let h = headers(&[(
            "x-hub-signature",
            "sha1=3dca279e731c97c38e3019a075dee9ebbd0a99f0",
        )]);
        assert_eq!(
            verify_with(&facebook(), &h, TEXT_VI),
            Err(VerifyError::BadSignature)
        );

        let h = headers(&[("x-hub-signature", "sha256=abcd")]);
        assert_eq!(
            verify_with(&facebook(), &h, TEXT_VI),
            Err(VerifyError::MalformedSignature("X-Hub-Signature"))
        );

        // A bad SHA-256 header is not rescued by a good SHA-1 one.
        let bad256 = signature_header("another_secret", TEXT_VI);
        let h = headers(&[("x-hub-signature-256", &bad256), ("x-hub-signature", &sha1)]);
        assert_eq!(
            verify_with(&facebook(), &h, TEXT_VI),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn verify_without_app_secret_is_not_configured() {
        let h = headers(&[("x-hub-signature-256", TEXT_VI_SIGNATURE)]);
        for secret in [None, Some(String::new())] {
            let fb = Facebook::new(FacebookConfig {
                app_secret: secret,
                ..FacebookConfig::default()
            });
            assert_eq!(
                verify_with(&fb, &h, TEXT_VI),
                Err(VerifyError::NotConfigured("facebook"))
            );
        }
    }

    // ---- handshake --------------------------------------------------------------------------

    #[test]
    fn handshake_with_matching_token_echoes_the_challenge() {
        let reply = handshake_with(
            &facebook(),
            Method::GET,
            Some("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock"),
        );
        assert_eq!(
            reply,
            Some(Ok(HandshakeReply {
                status: 200,
                content_type: "text/plain",
                body: "1158201444".into(),
            }))
        );
    }

    #[test]
    fn handshake_query_is_url_decoded() {
        let fb = Facebook::new(FacebookConfig {
            verify_token: Some("tông đài/1 2".into()),
            ..FacebookConfig::default()
        });
        let reply = handshake_with(
            &fb,
            Method::GET,
            Some(
                "hub.verify_token=t%C3%B4ng+%C4%91%C3%A0i%2F1%202&hub.challenge=abc%3D&hub.mode=subscribe",
            ),
        );
        assert_eq!(
            reply.map(|r| r.map(|r| r.body)),
            Some(Ok("abc=".to_owned()))
        );
    }

    #[test]
    fn handshake_with_wrong_token_mode_or_no_configured_token_is_refused() {
        let refused = Some(Err(VerifyError::BadVerifyToken));
        let fb = facebook();
        let wrong_token = "hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope";
        assert_eq!(handshake_with(&fb, Method::GET, Some(wrong_token)), refused);
        let wrong_mode = "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meatyhamhock";
        assert_eq!(handshake_with(&fb, Method::GET, Some(wrong_mode)), refused);
        let no_mode = "hub.challenge=1&hub.verify_token=meatyhamhock";
        assert_eq!(handshake_with(&fb, Method::GET, Some(no_mode)), refused);
        let no_challenge = "hub.mode=subscribe&hub.verify_token=meatyhamhock";
        assert_eq!(
            handshake_with(&fb, Method::GET, Some(no_challenge)),
            refused
        );

        for configured in [None, Some(String::new())] {
            let fb = Facebook::new(FacebookConfig {
                verify_token: configured,
                ..FacebookConfig::default()
            });
            let empty = "hub.mode=subscribe&hub.challenge=1&hub.verify_token=";
            assert_eq!(handshake_with(&fb, Method::GET, Some(empty)), refused);
        }
    }

    #[test]
    fn non_handshake_requests_are_not_handshakes() {
        let fb = facebook();
        let q = "hub.mode=subscribe&hub.challenge=1&hub.verify_token=meatyhamhock";
        assert_eq!(handshake_with(&fb, Method::POST, Some(q)), None);
        assert_eq!(handshake_with(&fb, Method::GET, None), None);
        assert_eq!(handshake_with(&fb, Method::GET, Some("foo=bar")), None);
    }

    // ---- parse ------------------------------------------------------------------------------

    #[test]
    fn vietnamese_text_message_is_received() {
        let events = facebook().parse(TEXT_VI).expect("parses");
        assert_eq!(
            events,
            vec![NormalizedEvent::MessageReceived(InboundMessage {
                account_external_id: "105123456789012".into(),
                contact: ContactRef {
                    external_id: "6789012345678901".into(),
                    display_name: None,
                },
                thread_external_id: "6789012345678901".into(),
                external_message_id: "m_AbCdEf123".into(),
                sent_at: ms(1_718_000_000_000),
                text: Some("Shop ơi, áo này còn size M không?".into()),
                attachments: vec![],
                reply_to: None,
                app_id: None,
                quick_reply: None,
                postback: None,
                referral: None,
                standby: false,
            })]
        );
    }

    #[test]
    fn batch_of_echo_delivery_and_read_yields_three_events_in_order() {
        let events = parse(include_str!(
            "../../fixtures/facebook/batch_echo_delivery_read.json"
        ));
        assert_eq!(events.len(), 3);
        let NormalizedEvent::MessageEcho(echo) = &events[0] else {
            panic!("expected echo, got {:?}", events[0]);
        };
        assert_eq!(echo.account_external_id, "105123456789012");
        // Echoes go Page → customer: the contact and thread are the recipient.
        assert_eq!(echo.contact.external_id, "6789012345678901");
        assert_eq!(echo.thread_external_id, "6789012345678901");
        assert_eq!(echo.external_message_id, "m_Out001");
        assert_eq!(echo.text.as_deref(), Some("Còn bạn nhé"));
        assert_eq!(echo.app_id.as_deref(), Some("1517776481860111"));
        assert_eq!(echo.sent_at, ms(1_718_000_004_900));
        assert!(facebook().is_own_app(echo.app_id.as_deref()));

        assert_eq!(
            events[1],
            NormalizedEvent::DeliveryStatus(DeliveryReceipt {
                account_external_id: "105123456789012".into(),
                contact_external_id: "6789012345678901".into(),
                external_message_ids: vec!["m_Out001".into()],
                watermark: Some(ms(1_718_000_004_950)),
                state: DeliveryState::Delivered,
            })
        );
        assert_eq!(
            events[2],
            NormalizedEvent::DeliveryStatus(DeliveryReceipt {
                account_external_id: "105123456789012".into(),
                contact_external_id: "6789012345678901".into(),
                external_message_ids: vec![],
                watermark: Some(ms(1_718_000_004_950)),
                state: DeliveryState::Read,
            })
        );
    }

    #[test]
    fn numeric_ids_and_string_timestamps_are_accepted() {
        let events = parse(include_str!("../../fixtures/facebook/numeric_ids.json"));
        let msgs = messages(&events);
        assert_eq!(msgs.len(), 2);
        let (kind, m) = msgs[0];
        assert_eq!(kind, "in");
        assert_eq!(m.account_external_id, "12345654332");
        assert_eq!(m.contact.external_id, "987654321432");
        assert_eq!(m.sent_at, ms(1_457_764_197_627));
        let (kind, echo) = msgs[1];
        assert_eq!(kind, "echo");
        assert_eq!(echo.contact.external_id, "987654321432");
        assert_eq!(echo.app_id.as_deref(), Some("1517776481860111"));
    }

    #[test]
    fn timestamps_in_seconds_are_normalized_and_entry_time_is_the_fallback() {
        let events = parse(include_str!(
            "../../fixtures/facebook/seconds_timestamps.json"
        ));
        let msgs = messages(&events);
        assert_eq!(msgs[0].1.external_message_id, "m_seconds");
        assert_eq!(msgs[0].1.sent_at, ms(1_718_000_000_000));
        assert_eq!(msgs[1].1.external_message_id, "m_no_timestamp");
        assert_eq!(msgs[1].1.sent_at, ms(1_718_000_100_000));
        let NormalizedEvent::DeliveryStatus(read) = &events[2] else {
            panic!("expected read, got {:?}", events[2]);
        };
        assert_eq!(read.watermark, Some(ms(1_718_000_000_000)));
    }

    #[test]
    fn every_entry_of_a_batch_is_parsed_with_its_own_page() {
        let events = parse(include_str!("../../fixtures/facebook/multi_page.json"));
        let got: Vec<(&str, &str, &str)> = messages(&events)
            .iter()
            .map(|(_, m)| {
                (
                    m.account_external_id.as_str(),
                    m.contact.external_id.as_str(),
                    m.external_message_id.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("105123456789012", "6789012345678901", "m_page1_a"),
                ("105123456789012", "6789012345678902", "m_page1_b"),
                ("209876543210987", "7000000000000001", "m_page2_a"),
                ("105123456789012", "6789012345678901", "m_page1_c"),
            ]
        );
        assert_eq!(events[2].account_external_id(), "209876543210987");
        assert_eq!(
            facebook().account_hints(include_bytes!("../../fixtures/facebook/multi_page.json")),
            vec!["105123456789012".to_owned(), "209876543210987".to_owned()]
        );
    }

    #[test]
    fn standby_items_are_parsed_like_messaging_items() {
        let events = parse(include_str!("../../fixtures/facebook/standby.json"));
        let msgs = messages(&events);
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            (msgs[0].0, msgs[0].1.external_message_id.as_str()),
            ("in", "m_standby_in")
        );
        assert_eq!(
            (msgs[1].0, msgs[1].1.external_message_id.as_str()),
            ("echo", "m_standby_echo")
        );
        assert_eq!(msgs[1].1.contact.external_id, "6789012345678901");
        assert!(!facebook().is_own_app(msgs[1].1.app_id.as_deref()));
    }

    #[test]
    fn deleted_messages_and_unhandled_event_types_yield_no_events() {
        let events = parse(include_str!("../../fixtures/facebook/ignored_events.json"));
        let ids: Vec<&str> = messages(&events)
            .iter()
            .map(|(_, m)| m.external_message_id.as_str())
            .collect();
        assert_eq!(ids, vec!["m_kept"]);
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn attachments_reply_to_and_urls_are_kept() {
        let events = parse(include_str!("../../fixtures/facebook/attachments.json"));
        let msgs = messages(&events);
        let media = msgs[0].1;
        assert_eq!(media.text, None);
        assert_eq!(
            media.attachments,
            vec![
                Attachment {
                    kind: "image".into(),
                    url: Some(
                        "https://scontent.xx.fbcdn.net/v/t1.15752-9/ao.jpg?_nc_cat=1&oh=abc".into()
                    ),
                    ..Attachment::default()
                },
                Attachment {
                    kind: "image".into(),
                    url: Some("https://scontent.xx.fbcdn.net/sticker.png".into()),
                    ..Attachment::default()
                },
                Attachment {
                    kind: "location".into(),
                    url: None,
                    ..Attachment::default()
                },
                Attachment {
                    kind: "fallback".into(),
                    url: Some("https://shop.example.vn/p/123".into()),
                    ..Attachment::default()
                },
                Attachment {
                    kind: "video".into(),
                    url: None,
                    ..Attachment::default()
                },
            ]
        );
        let reply = msgs[1].1;
        assert_eq!(reply.reply_to.as_deref(), Some("m_Out001"));
        assert_eq!(reply.text.as_deref(), Some("Size M"));
    }

    #[test]
    fn other_objects_belong_to_other_connectors() {
        let fb = facebook();
        let ig = include_bytes!("../../fixtures/facebook/instagram_object.json");
        assert_eq!(fb.parse(ig), Ok(vec![]));
        assert_eq!(fb.parse(br#"{"object":"user","entry":5}"#), Ok(vec![]));
    }

    #[test]
    fn malformed_bodies_are_parse_errors_with_a_useful_message() {
        let fb = facebook();
        let cases: [(&[u8], &str); 10] = [
            (b"not json", "invalid JSON"),
            (b"", "invalid JSON"),
            (br#"{"entry":[]}"#, "missing \"object\""),
            (br#"{"object":"page"}"#, "missing \"entry\" array"),
            (br#"{"object":"page","entry":{}}"#, "\"entry\" is not an array"),
            (br#"{"object":"page","entry":[{"time":1718000000000,"messaging":[]}]}"#, "entry[0]: missing \"id\""),
            (
                br#"{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"timestamp":1718000000000,"message":{"text":"hi"}}]}]}"#,
                "entry[0].messaging[0]: message without \"mid\"",
            ),
            (
                br#"{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","text":"hi"}}]}]}"#,
                "without \"timestamp\"",
            ),
            (
                br#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[{},{"sender":{"id":2.5}}]}]}"#,
                "entry[0]: messaging[1]",
            ),
            (
                br#"{"object":"page","entry":[{"id":"1","time":1,"standby":[{"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m"}}]}]}"#,
                "entry[0].standby[0]: message without sender.id",
            ),
        ];
        for (body, expected) in cases {
            let err = fb.parse(body).expect_err(&String::from_utf8_lossy(body));
            assert!(
                err.0.contains(expected),
                "{:?} → {:?}, wanted {expected:?}",
                String::from_utf8_lossy(body),
                err.0
            );
        }
        assert!(fb.account_hints(b"not json").is_empty());
        assert!(
            fb.account_hints(br#"{"object":"page","entry":[{"id":12345654332}]}"#)
                == vec!["12345654332".to_owned()]
        );
    }

    // ---- Graph error mapping ----------------------------------------------------------------

    #[test]
    fn graph_errors_map_to_connector_errors() {
        let none = HeaderMap::new();
        let err =
            |status, body: &str| graph_error(status, &none, body.as_bytes(), "EAAB_secret_token");

        let e = err(
            400,
            r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"Abc"}}"#,
        );
        assert!(
            matches!(&e, ConnectorError::Unauthorized(m) if m.contains("Abc")),
            "{e:?}"
        );
        assert!(!e.is_retryable());
        let e = err(
            400,
            r#"{"error":{"message":"Session key invalid","type":"OAuthException","code":102}}"#,
        );
        assert!(matches!(e, ConnectorError::Unauthorized(_)), "{e:?}");
        for code in RATE_LIMIT_CODES {
            let e = err(
                400,
                &format!(
                    r#"{{"error":{{"message":"limit","type":"OAuthException","code":{code}}}}}"#
                ),
            );
            assert!(
                matches!(
                    e,
                    ConnectorError::RateLimited {
                        retry_after: None,
                        ..
                    }
                ),
                "{code}: {e:?}"
            );
            assert!(e.is_retryable());
        }
        let e = err(429, "Too Many Requests");
        assert!(matches!(e, ConnectorError::RateLimited { .. }), "{e:?}");
        let e = err(
            500,
            r#"{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2}}"#,
        );
        assert!(
            matches!(
                e,
                ConnectorError::Api {
                    status: 500,
                    code: Some(2),
                    transient: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = err(
            400,
            r#"{"error":{"message":"(#2) Service temporarily unavailable","type":"OAuthException","code":"2"}}"#,
        );
        assert!(
            matches!(
                e,
                ConnectorError::Api {
                    code: Some(2),
                    transient: true,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.is_retryable());
        let e = err(
            400,
            r#"{"error":{"message":"(#10) outside window","type":"OAuthException","code":10,"error_subcode":2018278}}"#,
        );
        assert!(
            matches!(
                e,
                ConnectorError::Api {
                    status: 400,
                    code: Some(10),
                    subcode: Some(2_018_278),
                    transient: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.is_retryable());
        let e = err(
            400,
            r#"{"error":{"message":"(#100) No matching user found","type":"OAuthException","code":100,"error_subcode":2018001}}"#,
        );
        assert!(
            matches!(
                e,
                ConnectorError::Api {
                    code: Some(100),
                    transient: false,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = err(
            400,
            r#"{"error":{"message":"(#551) This person isn't available right now.","type":"OAuthException","code":551,"error_subcode":1545041}}"#,
        );
        assert!(!e.is_retryable(), "{e:?}");
        let e = err(502, "<html>Bad Gateway</html>");
        assert!(
            matches!(&e, ConnectorError::Api { status: 502, code: None, transient: true, message, .. } if message.contains("Bad Gateway")),
            "{e:?}"
        );
        let e = err(403, "");
        assert!(
            matches!(
                e,
                ConnectorError::Api {
                    status: 403,
                    transient: false,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn the_access_token_never_appears_in_an_error() {
        let token = "EAAB_secret_token";
        let none = HeaderMap::new();
        let bodies = [
            format!(
                r#"{{"error":{{"message":"Invalid OAuth access token - Cannot parse access token {token}","type":"OAuthException","code":190}}}}"#
            ),
            format!("upstream failed for /me/messages?access_token={token}"),
        ];
        for status in [400, 500] {
            for body in &bodies {
                let e = graph_error(status, &none, body.as_bytes(), token);
                assert!(!e.to_string().contains(token), "{e}");
                assert!(!format!("{e:?}").contains(token), "{e:?}");
            }
        }
    }

    #[test]
    fn retry_after_comes_from_the_business_use_case_header() {
        let h = headers(&[(
            "x-business-use-case-usage",
            r#"{"105123456789012":[{"type":"messenger","call_count":100,"total_cputime":16,"total_time":45,"estimated_time_to_regain_access":10},{"type":"pages","estimated_time_to_regain_access":"3"}]}"#,
        )]);
        assert_eq!(retry_after(&h), Some(Duration::from_secs(600)));
        let e = graph_error(
            400,
            &h,
            br#"{"error":{"message":"(#32) Page request limit reached","code":32}}"#,
            "t",
        );
        assert!(
            matches!(e, ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(600)),
            "{e:?}"
        );

        let zero = headers(&[(
            "x-business-use-case-usage",
            r#"{"1":[{"estimated_time_to_regain_access":0}]}"#,
        )]);
        assert_eq!(retry_after(&zero), None);
        assert_eq!(
            retry_after(&headers(&[("x-business-use-case-usage", "garbage")])),
            None
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "30")])),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
