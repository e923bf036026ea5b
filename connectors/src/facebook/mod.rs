//! The Meta connector — Facebook Pages and Instagram professional accounts (Facebook Login):
//! Messenger and Page webhooks (`X-Hub-Signature-256`) and the subscription handshake here;
//! the Graph API calls (Send API, comments, login, profiles, history) in [`graph`]. Contract:
//! `shared/specs/social.md` §2–3. Wire types and their conversion into normalized events live
//! in [`wire`].

pub mod graph;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod wire;

use std::time::Duration;

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha1::Sha1;
use sha2::Sha256;

pub use self::graph::{
    DEFAULT_OAUTH_DIALOG, LOGIN_SCOPES, PAGE_WEBHOOK_FIELDS, RATE_LIMIT_CODES, authorize_url,
    classify_error, parse_usage,
};
use crate::error::{ConnectorError, ParseError, VerifyError};
use crate::traits::{Comments, Connector, History, Lookup, Messaging, MetaLogin, WebhookInbound};
use crate::types::{HandshakeReply, InboundRequest, NormalizedEvent, Platform};
use crate::verify::{constant_time_eq, hmac_sha256_hex};

/// Header carrying the idempotency key of a send (the IETF `Idempotency-Key` draft). Meta
/// ignores it; our sandbox honours it.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Header carrying `sha256=<hex>`, the signature Meta sends today.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// Legacy header carrying `sha1=<hex>`; checked only when [`SIGNATURE_HEADER`] is absent.
pub const LEGACY_SIGNATURE_HEADER: &str = "X-Hub-Signature";
/// Meta's Business Use Case usage header; its `estimated_time_to_regain_access` is minutes.
pub const BUC_USAGE_HEADER: &str = "X-Business-Use-Case-Usage";

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
    fn comments(&self) -> Option<&dyn Comments> {
        Some(self)
    }
    fn meta_login(&self) -> Option<&dyn MetaLogin> {
        Some(self)
    }
    fn lookup(&self) -> Option<&dyn Lookup> {
        Some(self)
    }
    fn history(&self) -> Option<&dyn History> {
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

    /// The body's hash behind the time of its first entry: Meta resends identical bytes, so
    /// a retry gets the same key, and keys of deliveries made later sort later, so the
    /// dedupe index grows at its end instead of at a random page per webhook.
    fn event_key(&self, req: &InboundRequest<'_>) -> Option<String> {
        let time = first_entry_time(req.body)?;
        Some(format!(
            "{time:0>16}:{}",
            crate::verify::body_hash_key(req.body)
        ))
    }

    fn account_hints(&self, body: &[u8]) -> Vec<String> {
        wire::entry_ids(body)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
        wire::parse_body(body)
    }
}

/// The digits of the first `"time"` member of a Meta webhook body (the first entry's time,
/// seconds or milliseconds, number or string), without parsing the body; at most 16 digits.
fn first_entry_time(body: &[u8]) -> Option<&str> {
    const NAME: &[u8] = b"\"time\"";
    let at = body.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let rest = &body[at..];
    let skip = |b: &[u8], set: &[u8]| b.iter().take_while(|c| set.contains(c)).count();
    let mut i = skip(rest, b" \t\r\n");
    if rest.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    i += skip(&rest[i..], b" \t\r\n\"");
    let digits = rest[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 16 {
        return None;
    }
    std::str::from_utf8(&rest[i..i + digits]).ok()
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

/// Map a failed Graph API answer to a [`ConnectorError`] (§2.8.7, §2.9): [`classify_error`]
/// with one secret, `token`, scrubbed from every message.
pub fn graph_error(status: u16, headers: &HeaderMap, body: &[u8], token: &str) -> ConnectorError {
    graph::classify_error(status, headers, body, &[token])
}

/// How long Meta asks us to wait: the largest `estimated_time_to_regain_access` (minutes) in
/// `X-Business-Use-Case-Usage`, else a `Retry-After` in seconds, else a default backoff when
/// `X-App-Usage` reports 100%. `None` when nothing says.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    graph::retry_after(headers)
}

#[cfg(test)]
mod tests {
    use http::HeaderName;

    use super::*;

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
    fn event_keys_lead_with_the_entry_time_and_are_stable() {
        let fb = facebook();
        let key = |body: &str| {
            let headers = HeaderMap::new();
            let req = InboundRequest {
                method: &Method::POST,
                headers: &headers,
                query: None,
                body: body.as_bytes(),
            };
            fb.event_key(&req)
        };
        let a = r#"{"object":"page","entry":[{"id":"1","time":1732000000123,"messaging":[]}]}"#;
        let b = r#"{"object":"page","entry":[{"id":"1","time": "1732000000124","messaging":[]}]}"#;
        let ka = key(a).expect("a key");
        assert_eq!(
            ka,
            format!(
                "0001732000000123:{}",
                crate::verify::body_hash_key(a.as_bytes())
            )
        );
        assert_eq!(key(a), Some(ka.clone()), "the same bytes give the same key");
        let kb = key(b).expect("a key");
        assert!(kb.starts_with("0001732000000124:sha256:") && kb > ka);
        // Seconds sort before milliseconds of the same era; both are accepted.
        assert!(key(r#"{"entry":[{"time":1732000000}]}"#).is_some());
        for none in [
            r#"{"object":"page","entry":[]}"#,
            r#"{"entry":[{"time":null}]}"#,
            r#"{"entry":[{"time":12345678901234567}]}"#,
            r#"{"entry":[{"time" 5}]}"#,
        ] {
            assert_eq!(key(none), None, "{none}");
        }
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
        assert!(matches!(e, ConnectorError::OutsideWindow(_)), "{e:?}");
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
