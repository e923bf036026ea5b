//! The shop's own website chat (the `widget.js` bubble). There is no third-party platform: the
//! hub's widget endpoints accept what a visitor writes and hand it to the same durable ingest
//! path as platform webhooks, as a small JSON body signed with a key derived from the hub's
//! master key. This module owns that body's format, its signature, its dedupe key and its
//! normalization, and the "sending" of agents' replies, which have nowhere to go but the hub's
//! own bus (the visitor's websocket picks them up once they are marked sent).

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ConnectorError, ParseError, VerifyError};
use crate::outbound::{OutboundContent, OutboundMessage, Sent, Usage};
use crate::traits::{Connector, Messaging, WebhookInbound};
use crate::types::{
    AccountCtx, ContactRef, HandshakeReply, HttpCtx, InboundMessage, InboundRequest,
    NormalizedEvent, Platform,
};
use crate::verify::{constant_time_eq, hmac_sha256_hex};

/// Header carrying `sha256=<hex HMAC-SHA256(key, body)>` on a visitor event.
pub const SIGNATURE_HEADER: &str = "x-tongdai-webchat-signature";

/// The `postback` marking the message a contact form submission becomes.
pub const CONTACT_FORM: &str = "contact_form";

/// App-level settings of the website chat.
#[derive(Clone, Default)]
pub struct WebchatConfig {
    /// Key that signs visitor events (the hub derives it from its master key). Without one
    /// nothing verifies.
    pub signing_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for WebchatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebchatConfig")
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What a visitor did, as stored in `inbound_event` (platform `webchat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorEvent {
    /// The visitor wrote a message.
    Message {
        /// The channel's `website_token` (its `external_id`).
        account: String,
        /// The visitor's id within the channel: a verified `identifier`, or `visitor:<uuid>`.
        visitor: String,
        /// The name the visitor is known by, when the shop passed one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The widget's own id for this message (reconciles the optimistic bubble; dedupes).
        echo_id: String,
        /// The text.
        text: String,
        /// When the hub received it, in milliseconds.
        sent_at: i64,
    },
    /// The visitor left a name and a phone number in the contact form.
    Contact {
        /// The channel's `website_token`.
        account: String,
        /// The visitor's id within the channel.
        visitor: String,
        /// Name, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Phone as typed, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        /// When the hub received it, in milliseconds.
        sent_at: i64,
    },
    /// The visitor has seen everything up to `at` (milliseconds).
    Read {
        /// The channel's `website_token`.
        account: String,
        /// The visitor's id within the channel.
        visitor: String,
        /// When.
        at: i64,
    },
}

impl VisitorEvent {
    /// The stable key of this event: a resent message (same echo id) is stored once.
    pub fn key(&self) -> String {
        match self {
            VisitorEvent::Message {
                account,
                visitor,
                echo_id,
                ..
            } => format!("webchat:{account}:msg:{}", message_id(visitor, echo_id)),
            VisitorEvent::Contact {
                account, visitor, ..
            } => format!("webchat:{account}:contact:{}", contact_id(self, visitor)),
            VisitorEvent::Read {
                account,
                visitor,
                at,
            } => format!("webchat:{account}:read:{visitor}:{at}"),
        }
    }

    /// The body stored for it, and the signature header value over that body.
    pub fn sign(&self, key: &[u8]) -> (Vec<u8>, String) {
        let body = serde_json::to_vec(self).expect("visitor events serialize");
        let sig = format!("sha256={}", hmac_sha256_hex(key, &body));
        (body, sig)
    }
}

/// The platform message id of a visitor's message: unique per channel, since two visitors
/// may well pick the same echo id.
pub fn message_id(visitor: &str, echo_id: &str) -> String {
    format!("{visitor}|{echo_id}")
}

/// The echo id of a stored visitor message, when `external_id` is one of `visitor`'s.
pub fn echo_id_of<'a>(visitor: &str, external_id: &'a str) -> Option<&'a str> {
    external_id
        .strip_prefix(visitor)
        .and_then(|r| r.strip_prefix('|'))
}

fn contact_id(ev: &VisitorEvent, visitor: &str) -> String {
    let VisitorEvent::Contact { name, phone, .. } = ev else {
        return String::new();
    };
    let digest = Sha256::digest(
        format!(
            "{}\n{}",
            name.as_deref().unwrap_or(""),
            phone.as_deref().unwrap_or("")
        )
        .as_bytes(),
    );
    format!("{visitor}|contact-{}", &hex::encode(digest)[..16])
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

/// The website chat connector.
pub struct Webchat {
    cfg: WebchatConfig,
}

impl Webchat {
    /// With the given signing key.
    pub fn new(cfg: WebchatConfig) -> Self {
        Webchat { cfg }
    }
}

impl Connector for Webchat {
    fn platform(&self) -> Platform {
        Platform::Webchat
    }
    fn webhook(&self) -> Option<&dyn WebhookInbound> {
        Some(self)
    }
    fn messaging(&self) -> Option<&dyn Messaging> {
        Some(self)
    }
}

impl WebhookInbound for Webchat {
    fn handshake(&self, _req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>> {
        None
    }

    fn verify(&self, req: &InboundRequest<'_>) -> Result<(), VerifyError> {
        let key = self
            .cfg
            .signing_key
            .as_deref()
            .ok_or(VerifyError::NotConfigured("webchat"))?;
        let value = req
            .headers
            .get(SIGNATURE_HEADER)
            .ok_or(VerifyError::MissingSignature(SIGNATURE_HEADER))?
            .to_str()
            .map_err(|_| VerifyError::MalformedSignature(SIGNATURE_HEADER))?;
        let given = value
            .strip_prefix("sha256=")
            .ok_or(VerifyError::MalformedSignature(SIGNATURE_HEADER))?;
        let expected = hmac_sha256_hex(key, req.body);
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    fn event_key(&self, req: &InboundRequest<'_>) -> Option<String> {
        serde_json::from_slice::<VisitorEvent>(req.body)
            .ok()
            .map(|e| e.key())
    }

    fn account_hints(&self, body: &[u8]) -> Vec<String> {
        #[derive(Deserialize)]
        struct Hint {
            account: String,
        }
        serde_json::from_slice::<Hint>(body)
            .map(|h| vec![h.account])
            .unwrap_or_default()
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
        // Unknown event types (a newer widget server's body replayed by an older one) are
        // ignored, never an error.
        let value: serde_json::Value = serde_json::from_slice(body)?;
        let known = matches!(
            value.get("type").and_then(|t| t.as_str()),
            Some("message" | "contact" | "read")
        );
        if !known {
            return Ok(Vec::new());
        }
        let ev: VisitorEvent = serde_json::from_value(value)?;
        Ok(vec![normalize(&ev)])
    }
}

fn inbound(
    account: &str,
    visitor: &str,
    name: Option<&str>,
    id: String,
    text: String,
    at: i64,
) -> InboundMessage {
    InboundMessage {
        account_external_id: account.to_owned(),
        contact: ContactRef {
            external_id: visitor.to_owned(),
            display_name: name.map(str::to_owned),
        },
        thread_external_id: visitor.to_owned(),
        external_message_id: id,
        sent_at: at_ms(at),
        text: Some(text),
        attachments: Vec::new(),
        reply_to: None,
        app_id: None,
        quick_reply: None,
        postback: None,
        referral: None,
        standby: false,
    }
}

/// A visitor event in tongdai's terms. A contact form becomes a message from the visitor
/// (`postback` = [`CONTACT_FORM`]) carrying the name and phone, so the agent sees it in the
/// thread and the phone makes a lead like any phone a customer writes.
pub fn normalize(ev: &VisitorEvent) -> NormalizedEvent {
    match ev {
        VisitorEvent::Message {
            account,
            visitor,
            name,
            echo_id,
            text,
            sent_at,
        } => NormalizedEvent::MessageReceived(inbound(
            account,
            visitor,
            name.as_deref(),
            message_id(visitor, echo_id),
            text.clone(),
            *sent_at,
        )),
        VisitorEvent::Contact {
            account,
            visitor,
            name,
            phone,
            sent_at,
        } => {
            let text = [name.as_deref(), phone.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            let mut m = inbound(
                account,
                visitor,
                name.as_deref(),
                contact_id(ev, visitor),
                text,
                *sent_at,
            );
            m.postback = Some(CONTACT_FORM.to_owned());
            NormalizedEvent::MessageReceived(m)
        }
        VisitorEvent::Read {
            account,
            visitor,
            at,
        } => NormalizedEvent::DeliveryStatus(crate::types::DeliveryReceipt {
            account_external_id: account.clone(),
            contact_external_id: visitor.clone(),
            external_message_ids: Vec::new(),
            watermark: Some(at_ms(*at)),
            state: crate::types::DeliveryState::Read,
        }),
    }
}

#[async_trait]
impl Messaging for Webchat {
    /// The visitor is reached through the hub's own websocket, which forwards a reply once it
    /// is marked sent: "sending" only gives the reply its platform id. Text only.
    async fn send(
        &self,
        _cx: &HttpCtx<'_>,
        _account: &AccountCtx<'_>,
        msg: &OutboundMessage,
    ) -> Result<Sent, ConnectorError> {
        if !matches!(msg.content, OutboundContent::Text(_)) {
            return Err(ConnectorError::Invalid(
                "the website chat sends text only".into(),
            ));
        }
        let key = msg.idempotency_key.as_deref().ok_or_else(|| {
            ConnectorError::Invalid("a website chat reply needs its message id".into())
        })?;
        Ok(Sent {
            external_message_id: format!("agent|{key}"),
            recipient_id: None,
            usage: Usage::default(),
            quota: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webchat() -> Webchat {
        Webchat::new(WebchatConfig {
            signing_key: Some(b"k".to_vec()),
        })
    }

    fn request<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> InboundRequest<'a> {
        InboundRequest {
            method: &http::Method::POST,
            headers,
            query: None,
            body,
        }
    }

    fn message(echo: &str) -> VisitorEvent {
        VisitorEvent::Message {
            account: "tok".into(),
            visitor: "visitor:1".into(),
            name: None,
            echo_id: echo.into(),
            text: "Chào shop".into(),
            sent_at: 1_718_000_000_000,
        }
    }

    #[test]
    fn signed_events_verify_and_tampered_ones_do_not() {
        let (body, sig) = message("e1").sign(b"k");
        let mut h = http::HeaderMap::new();
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        assert_eq!(webchat().verify(&request(&h, &body)), Ok(()));
        let mut other = body.clone();
        other[5] ^= 1;
        assert_eq!(
            webchat().verify(&request(&h, &other)),
            Err(VerifyError::BadSignature)
        );
        let (_, wrong_key) = message("e1").sign(b"other");
        h.insert(SIGNATURE_HEADER, wrong_key.parse().unwrap());
        assert_eq!(
            webchat().verify(&request(&h, &body)),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            webchat().verify(&request(&http::HeaderMap::new(), &body)),
            Err(VerifyError::MissingSignature(SIGNATURE_HEADER))
        );
        let unconfigured = Webchat::new(WebchatConfig::default());
        assert_eq!(
            unconfigured.verify(&request(&h, &body)),
            Err(VerifyError::NotConfigured("webchat"))
        );
    }

    #[test]
    fn a_resent_message_has_the_same_key_and_two_visitors_do_not_collide() {
        assert_eq!(message("e1").key(), message("e1").key());
        assert_ne!(message("e1").key(), message("e2").key());
        let mut other = message("e1");
        if let VisitorEvent::Message { visitor, .. } = &mut other {
            *visitor = "visitor:2".into();
        }
        assert_ne!(message("e1").key(), other.key());
    }

    #[test]
    fn a_message_becomes_a_received_message_in_the_visitors_thread() {
        let (body, _) = message("e1").sign(b"k");
        let evs = webchat().parse(&body).unwrap();
        let NormalizedEvent::MessageReceived(m) = &evs[0] else {
            panic!("{evs:?}")
        };
        assert_eq!(m.account_external_id, "tok");
        assert_eq!(m.thread_external_id, "visitor:1");
        assert_eq!(m.external_message_id, "visitor:1|e1");
        assert_eq!(echo_id_of("visitor:1", &m.external_message_id), Some("e1"));
        assert_eq!(echo_id_of("visitor:2", &m.external_message_id), None);
        assert_eq!(m.sent_at.timestamp_millis(), 1_718_000_000_000);
    }

    #[test]
    fn a_contact_form_becomes_a_message_with_the_phone() {
        let ev = VisitorEvent::Contact {
            account: "tok".into(),
            visitor: "visitor:1".into(),
            name: Some("Lan".into()),
            phone: Some("0912 345 678".into()),
            sent_at: 1,
        };
        let (body, _) = ev.sign(b"k");
        let evs = webchat().parse(&body).unwrap();
        let NormalizedEvent::MessageReceived(m) = &evs[0] else {
            panic!("{evs:?}")
        };
        assert_eq!(m.text.as_deref(), Some("Lan · 0912 345 678"));
        assert_eq!(m.contact.display_name.as_deref(), Some("Lan"));
        assert_eq!(m.postback.as_deref(), Some(CONTACT_FORM));
        assert_eq!(ev.key(), ev.clone().key());
    }

    #[test]
    fn unknown_event_types_are_ignored() {
        assert_eq!(
            webchat()
                .parse(br#"{"type":"wave","account":"tok"}"#)
                .unwrap(),
            vec![]
        );
        assert!(webchat().parse(b"not json").is_err());
    }
}
