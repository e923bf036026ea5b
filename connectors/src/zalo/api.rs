//! Zalo's HTTP APIs: OAuth v4 with PKCE for the OA access token (§4.4), the OA v3 consultation
//! Send API with its uploads, and the OA and user profile lookups (§4.3). Every OpenAPI call
//! carries the token in a header literally named `access_token`; answers are
//! `{"error": 0 | <negative>, "message", "data"}`, and each error class maps to one
//! [`ConnectorError`] so the hub reacts the same way it does for Meta.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use url::Url;

use super::Zalo;
use crate::error::ConnectorError;
use crate::outbound::{
    AccessToken, MediaKind, OAuthAccount, OAuthCallback, OutboundContent, OutboundMessage, Profile,
    Recipient, SendQuota, Sent, TokenSet, Usage,
};
use crate::traits::{Lookup, Messaging, OAuth};
use crate::types::{AccountCtx, HttpCtx, PostRef};

/// The header carrying the OA access token on every OpenAPI call.
pub const ACCESS_TOKEN_HEADER: &str = "access_token";
/// The header carrying the app secret on token requests.
pub const SECRET_KEY_HEADER: &str = "secret_key";
/// The idempotency header our sandbox honours (Zalo ignores it).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Largest file downloaded from a reply's attachment URL and uploaded to Zalo (5 MiB, Zalo's
/// documented limit for `upload/file` — UNVERIFIED).
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Most buttons one Zalo message carries (the official SDK refuses more).
pub const MAX_BUTTONS: usize = 5;
/// Error codes meaning the access token is invalid or expired: the OA must be reconnected
/// (-216 invalid token, -124 expired token). Not -201: an older code table
/// (doc.caresoft.vn) calls it "invalid access token", but v3 answers it for invalid
/// parameters too, and marking the OA `needs_reauth` for a bad parameter would stop all its
/// sends (UNVERIFIED either way, `shared/specs/social.md` §10).
pub const TOKEN_ERRORS: [i64; 2] = [-216, -124];
/// Error codes meaning the customer cannot be messaged now (not following, blocked, banned,
/// no or expired interaction, night curfew, message type restricted, quota): §4.3, from one
/// implementation's comments — UNVERIFIED.
pub const WINDOW_ERRORS: [i64; 7] = [-213, -217, -227, -230, -232, -234, -244];
/// Error code meaning "too many requests".
pub const RATE_LIMIT_ERROR: i64 = -32;
/// Error code meaning "unknown error, try again".
pub const UNKNOWN_ERROR: i64 = -100;
/// How long to wait after [`RATE_LIMIT_ERROR`] when Zalo says nothing more.
pub const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(60);

/// A JSON value that may be a string or a number, as text.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON value that may be a string or a number, as an integer.
fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn require(value: &str, what: &str) -> Result<(), ConnectorError> {
    if value.trim().is_empty() {
        return Err(ConnectorError::Invalid(format!("{what} is missing")));
    }
    Ok(())
}

/// `{base}/{path}` as a URL.
fn endpoint(base: &str, path: &str) -> Result<Url, ConnectorError> {
    Url::parse(&format!("{}/{path}", base.trim_end_matches('/')))
        .map_err(|e| ConnectorError::Invalid(format!("bad Zalo base URL: {e}")))
}

/// The error an OpenAPI `error` code stands for.
pub fn map_error(code: i64, message: &str) -> ConnectorError {
    let message = if message.is_empty() {
        format!("Zalo error {code}")
    } else {
        format!("{message} (Zalo error {code})")
    };
    if TOKEN_ERRORS.contains(&code) {
        ConnectorError::Unauthorized(message)
    } else if WINDOW_ERRORS.contains(&code) {
        ConnectorError::OutsideWindow(format!(
            "Zalo refused the message: the customer cannot receive it now (not following, \
             blocked, no recent interaction, night-time limit or no quota left): {message}"
        ))
    } else if code == RATE_LIMIT_ERROR {
        ConnectorError::RateLimited {
            retry_after: Some(RATE_LIMIT_BACKOFF),
            message,
        }
    } else {
        ConnectorError::Api {
            status: 200,
            code: Some(code),
            subcode: None,
            message,
            transient: code == UNKNOWN_ERROR,
        }
    }
}

/// The JSON body of an answer; HTTP errors mapped first.
async fn answer_json(res: reqwest::Response, what: &str) -> Result<Value, ConnectorError> {
    let status = res.status();
    let bytes = res.bytes().await?;
    let parsed = serde_json::from_slice::<Value>(&bytes);
    if status.is_server_error() {
        return Err(ConnectorError::Api {
            status: status.as_u16(),
            code: None,
            subcode: None,
            message: format!("{what}: Zalo answered HTTP {status}"),
            transient: true,
        });
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(ConnectorError::RateLimited {
            retry_after: Some(RATE_LIMIT_BACKOFF),
            message: format!("{what}: Zalo answered HTTP 429"),
        });
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(ConnectorError::Unauthorized(format!(
            "{what}: Zalo answered HTTP 401"
        )));
    }
    match parsed {
        Ok(v) if v.is_object() => Ok(v),
        _ if !status.is_success() => Err(ConnectorError::Api {
            status: status.as_u16(),
            code: None,
            subcode: None,
            message: format!("{what}: Zalo answered HTTP {status}"),
            transient: false,
        }),
        _ => Err(ConnectorError::Transport(format!(
            "{what}: Zalo answered something that is not a JSON object"
        ))),
    }
}

/// The `data` of a successful OpenAPI answer (`error == 0`), else its mapped error.
async fn openapi_data(res: reqwest::Response, what: &str) -> Result<Value, ConnectorError> {
    let v = answer_json(res, what).await?;
    let code = int(v.get("error")).unwrap_or(0);
    if code != 0 {
        let msg = text(v.get("message")).unwrap_or_default();
        return Err(map_error(code, &msg));
    }
    Ok(v.get("data").cloned().unwrap_or(Value::Null))
}

/// A token endpoint answer (`access_token`, `refresh_token`, `expires_in` at the top level,
/// `expires_in` a string or a number). An error answer, or one without an access token, is
/// [`ConnectorError::Unauthorized`] (the grant or refresh token is refused), except Zalo's
/// rate limit.
pub fn token_set(v: &Value) -> Result<TokenSet, ConnectorError> {
    let code = int(v.get("error")).unwrap_or(0);
    let access = text(v.get("access_token"));
    if code != 0 || access.is_none() {
        let why = text(v.get("error_description"))
            .or_else(|| text(v.get("error_reason")))
            .or_else(|| text(v.get("error_name")))
            .or_else(|| text(v.get("message")))
            .unwrap_or_else(|| "no access_token in the answer".into());
        if code == RATE_LIMIT_ERROR {
            return Err(ConnectorError::RateLimited {
                retry_after: Some(RATE_LIMIT_BACKOFF),
                message: why,
            });
        }
        return Err(ConnectorError::Unauthorized(format!(
            "Zalo refused the token request: {why}{}",
            if code != 0 {
                format!(" (error {code})")
            } else {
                String::new()
            }
        )));
    }
    let secs = |k: &str| int(v.get(k)).and_then(|n| u64::try_from(n).ok());
    Ok(TokenSet {
        access_token: AccessToken::new(access.unwrap_or_default()),
        refresh_token: text(v.get("refresh_token")).map(AccessToken::new),
        expires_in: secs("expires_in"),
        refresh_expires_in: secs("refresh_token_expires_in"),
        account_ids: Vec::new(),
    })
}

impl Zalo {
    async fn token_request(
        &self,
        cx: &HttpCtx<'_>,
        form: &[(&str, &str)],
    ) -> Result<TokenSet, ConnectorError> {
        let (Some(app_id), Some(secret)) = (self.cfg.app_id(), self.cfg.app_secret()) else {
            return Err(ConnectorError::Invalid(
                "the Zalo app id and app secret are not configured".into(),
            ));
        };
        let mut fields = vec![("app_id", app_id)];
        fields.extend_from_slice(form);
        let res = cx
            .http
            .post(endpoint(cx.base_url, "oa/access_token")?)
            .header(SECRET_KEY_HEADER, secret)
            .form(&fields)
            .send()
            .await?;
        let v = answer_json(res, "Zalo token endpoint").await?;
        token_set(&v)
    }
}

#[async_trait]
impl OAuth for Zalo {
    fn uses_pkce(&self) -> bool {
        true
    }

    fn authorize_url(
        &self,
        oauth_base: &str,
        redirect_uri: &str,
        state: &str,
        code_challenge: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let app_id = self
            .cfg
            .app_id()
            .ok_or_else(|| ConnectorError::Invalid("the Zalo app id is not configured".into()))?;
        let challenge = code_challenge
            .ok_or_else(|| ConnectorError::Invalid("Zalo needs a PKCE code challenge".into()))?;
        let mut url = endpoint(oauth_base, "oa/permission")?;
        url.query_pairs_mut()
            .append_pair("app_id", app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", challenge)
            .append_pair("state", state);
        Ok(url.into())
    }

    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        _redirect_uri: &str,
        callback: &OAuthCallback,
        code_verifier: Option<&str>,
    ) -> Result<TokenSet, ConnectorError> {
        let code = callback.code.as_str();
        require(code, "authorization code")?;
        let verifier = code_verifier
            .ok_or_else(|| ConnectorError::Invalid("Zalo needs the PKCE code verifier".into()))?;
        self.token_request(
            cx,
            &[
                ("code", code),
                ("grant_type", "authorization_code"),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    async fn refresh(
        &self,
        cx: &HttpCtx<'_>,
        _account: &str,
        refresh_token: &str,
    ) -> Result<TokenSet, ConnectorError> {
        require(refresh_token, "refresh token")?;
        self.token_request(
            cx,
            &[
                ("refresh_token", refresh_token),
                ("grant_type", "refresh_token"),
            ],
        )
        .await
    }

    async fn accounts(
        &self,
        cx: &HttpCtx<'_>,
        grant: &TokenSet,
    ) -> Result<Vec<OAuthAccount>, ConnectorError> {
        let res = cx
            .http
            .get(endpoint(cx.base_url, "v2.0/oa/getoa")?)
            .header(ACCESS_TOKEN_HEADER, grant.access_token.expose())
            .send()
            .await?;
        let data = openapi_data(res, "OA profile").await?;
        Ok(oa_account(&data).into_iter().collect())
    }
}

/// The OA a `getoa` answer's `data` describes; `None` without an `oa_id`.
pub fn oa_account(data: &Value) -> Option<OAuthAccount> {
    let external_id = text(data.get("oa_id"))?;
    let avatar = text(data.get("avatar"));
    let mut profile = serde_json::Map::new();
    for key in ["description", "cover", "avatar", "is_verified", "oa_type"] {
        if let Some(v) = data.get(key).filter(|v| !v.is_null()) {
            profile.insert(key.to_owned(), v.clone());
        }
    }
    Some(OAuthAccount {
        external_id,
        name: text(data.get("name")),
        picture_url: avatar,
        details: json!({ "zalo_oa": Value::Object(profile) }),
    })
}

/// The `quota` of a send answer's `data`, when present (an object; the first of an array).
pub fn quota(data: &Value) -> Option<SendQuota> {
    let q = match data.get("quota")? {
        Value::Array(a) => a.first()?,
        q @ Value::Object(_) => q,
        _ => return None,
    };
    Some(SendQuota {
        quota_type: text(q.get("quota_type")),
        remain: int(q.get("remain")),
        total: int(q.get("total")),
        expired_date: text(q.get("expired_date")),
    })
}

/// The recipient's user id and the buttons of `msg`, checked.
fn recipient_and_buttons(msg: &OutboundMessage) -> Result<(&str, Vec<Value>), ConnectorError> {
    let Recipient::User(user) = &msg.recipient else {
        return Err(ConnectorError::Unsupported);
    };
    require(user, "recipient id")?;
    if msg.quick_replies.len() > MAX_BUTTONS {
        return Err(ConnectorError::Invalid(format!(
            "{} quick replies; a Zalo message carries at most {MAX_BUTTONS} buttons",
            msg.quick_replies.len()
        )));
    }
    let mut buttons = Vec::with_capacity(msg.quick_replies.len());
    for b in &msg.quick_replies {
        require(&b.title, "quick reply title")?;
        require(&b.payload, "quick reply payload")?;
        // A query button sends its payload back as the customer's message, shown in the chat.
        buttons.push(json!({"title": b.title, "type": "oa.query.show", "payload": b.payload}));
    }
    Ok((user, buttons))
}

/// The Send API body of `msg` once any file is uploaded (`file_token`).
pub fn send_body(msg: &OutboundMessage, file_token: Option<&str>) -> Result<Value, ConnectorError> {
    let (user, buttons) = recipient_and_buttons(msg)?;
    let message = match (&msg.content, file_token) {
        (OutboundContent::Text(t), _) => {
            require(t, "message text")?;
            let mut m = json!({ "text": t });
            if !buttons.is_empty() {
                m["attachment"] = json!({"type": "template", "payload": {"buttons": buttons}});
            }
            m
        }
        (
            OutboundContent::Media {
                kind: MediaKind::Image,
                url,
                ..
            },
            _,
        ) => {
            let mut payload = json!({
                "template_type": "media",
                "elements": [{ "media_type": "image", "url": url }],
            });
            if !buttons.is_empty() {
                payload["buttons"] = Value::Array(buttons);
            }
            json!({ "attachment": { "type": "template", "payload": payload } })
        }
        (OutboundContent::Media { .. }, Some(token)) => {
            let mut payload = json!({ "token": token });
            if !buttons.is_empty() {
                payload["buttons"] = Value::Array(buttons);
            }
            json!({ "attachment": { "type": "file", "payload": payload } })
        }
        (OutboundContent::Media { .. }, None) => {
            return Err(ConnectorError::Invalid(
                "a file must be uploaded before it is sent".into(),
            ));
        }
    };
    Ok(json!({ "recipient": { "user_id": user }, "message": message }))
}

/// Download `url` (http or https), at most [`MAX_UPLOAD_BYTES`]: its bytes, content type and
/// file name.
async fn download(
    http: &reqwest::Client,
    url: &str,
) -> Result<(Vec<u8>, String, String), ConnectorError> {
    let parsed =
        Url::parse(url).map_err(|e| ConnectorError::Invalid(format!("bad attachment URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConnectorError::Invalid(
            "attachment URL must be http or https".into(),
        ));
    }
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .map(|s| {
            url::form_urlencoded::parse(s.as_bytes())
                .next()
                .map(|(k, _)| k.into_owned())
                .unwrap_or_else(|| s.to_owned())
        })
        .unwrap_or_else(|| "file".into());
    let mut res = http.get(parsed).send().await?;
    if !res.status().is_success() {
        let status = res.status();
        return Err(ConnectorError::Api {
            status: status.as_u16(),
            code: None,
            subcode: None,
            message: format!("the attachment could not be downloaded (HTTP {status})"),
            transient: status.is_server_error(),
        });
    }
    let too_big = || {
        ConnectorError::Invalid(format!(
            "the attachment is larger than Zalo's {} MiB limit",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ))
    };
    if res
        .content_length()
        .is_some_and(|n| n > MAX_UPLOAD_BYTES as u64)
    {
        return Err(too_big());
    }
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, content_type, name))
}

/// A `multipart/form-data` body with one part `file`: (body, content type header).
pub fn multipart_file(name: &str, content_type: &str, bytes: &[u8]) -> (Vec<u8>, String) {
    use sha2::Digest as _;
    // A boundary that cannot occur in the file: derived from its hash.
    let boundary = format!(
        "tongdai-{}",
        hex::encode(&sha2::Sha256::digest(bytes)[..12])
    );
    let safe_name: String = name
        .chars()
        .map(|c| if c == '"' || c.is_control() { '_' } else { c })
        .collect();
    let safe_type: String = content_type.chars().filter(|c| !c.is_control()).collect();
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{safe_name}\"\r\nContent-Type: {safe_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// Upload a file to `upload/file`: its token.
async fn upload_file(cx: &HttpCtx<'_>, token: &str, url: &str) -> Result<String, ConnectorError> {
    let (bytes, content_type, name) = download(cx.http, url).await?;
    let (body, header) = multipart_file(&name, &content_type, &bytes);
    let res = cx
        .http
        .post(endpoint(cx.base_url, "v2.0/oa/upload/file")?)
        .header(ACCESS_TOKEN_HEADER, token)
        .header(reqwest::header::CONTENT_TYPE, header)
        .body(body)
        .send()
        .await?;
    let data = openapi_data(res, "file upload").await?;
    text(data.get("token")).ok_or_else(|| ConnectorError::Api {
        status: 200,
        code: None,
        subcode: None,
        message: "file upload answered without a token".into(),
        transient: false,
    })
}

#[async_trait]
impl Messaging for Zalo {
    async fn send(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundMessage,
    ) -> Result<Sent, ConnectorError> {
        require(account.access_token, "OA access token")?;
        // Check the message before any download or upload.
        let file_url = match &msg.content {
            OutboundContent::Media { kind, url, .. } if *kind != MediaKind::Image => {
                recipient_and_buttons(msg)?;
                Some(url.as_str())
            }
            _ => None,
        };
        let file_token = match file_url {
            Some(url) => Some(upload_file(cx, account.access_token, url).await?),
            None => None,
        };
        let body = send_body(msg, file_token.as_deref())?;
        let mut req = cx
            .http
            .post(endpoint(cx.base_url, "v3.0/oa/message/cs")?)
            .header(ACCESS_TOKEN_HEADER, account.access_token)
            .json(&body);
        if let Some(key) = msg.idempotency_key.as_deref() {
            req = req.header(IDEMPOTENCY_HEADER, key);
        }
        let data = openapi_data(req.send().await?, "Send API").await?;
        match text(data.get("message_id")) {
            Some(id) => Ok(Sent {
                external_message_id: id,
                recipient_id: text(data.get("user_id")),
                usage: Usage::default(),
                quota: quota(&data),
            }),
            // It may have gone out: not retryable, or the customer could get it twice.
            None => Err(ConnectorError::Api {
                status: 200,
                code: None,
                subcode: None,
                message: "Send API answered without message_id".into(),
                transient: false,
            }),
        }
    }
}

#[async_trait]
impl Lookup for Zalo {
    async fn fetch_profile(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        user_id: &str,
    ) -> Result<Profile, ConnectorError> {
        require(account.access_token, "OA access token")?;
        require(user_id, "user id")?;
        let mut url = endpoint(cx.base_url, "v3.0/oa/user/detail")?;
        url.query_pairs_mut()
            .append_pair("data", &json!({ "user_id": user_id }).to_string());
        let res = cx
            .http
            .get(url)
            .header(ACCESS_TOKEN_HEADER, account.access_token)
            .send()
            .await?;
        let data = openapi_data(res, "user profile").await?;
        Ok(Profile {
            external_id: text(data.get("user_id")).unwrap_or_else(|| user_id.to_owned()),
            name: text(data.get("display_name")),
            username: None,
            picture_url: text(data.get("avatar")).or_else(|| {
                // Some answers carry only the sized `avatars` map.
                data.get("avatars")
                    .and_then(|a| a.as_object())
                    .and_then(|a| a.values().find_map(|v| text(Some(v))))
            }),
        })
    }

    async fn fetch_post(
        &self,
        _cx: &HttpCtx<'_>,
        _account: &AccountCtx<'_>,
        _post_id: &str,
    ) -> Result<PostRef, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::QuickReplyButton;

    fn user() -> Recipient {
        Recipient::User("2468013579246801357".into())
    }

    #[test]
    fn a_text_is_sent_to_the_user_id() {
        let body = send_body(&OutboundMessage::text(user(), "Chào bạn"), None).unwrap();
        assert_eq!(
            body,
            json!({"recipient": {"user_id": "2468013579246801357"}, "message": {"text": "Chào bạn"}})
        );
    }

    #[test]
    fn quick_replies_become_query_buttons() {
        let msg = OutboundMessage::text(user(), "Chọn size")
            .with_quick_reply("Size M", "SIZE_M")
            .with_quick_reply("Size L", "SIZE_L");
        let body = send_body(&msg, None).unwrap();
        assert_eq!(
            body["message"]["attachment"],
            json!({"type": "template", "payload": {"buttons": [
                {"title": "Size M", "type": "oa.query.show", "payload": "SIZE_M"},
                {"title": "Size L", "type": "oa.query.show", "payload": "SIZE_L"}]}})
        );
        let mut many = OutboundMessage::text(user(), "x");
        many.quick_replies = (0..6)
            .map(|i| QuickReplyButton {
                title: format!("b{i}"),
                payload: format!("p{i}"),
            })
            .collect();
        assert!(matches!(
            send_body(&many, None),
            Err(ConnectorError::Invalid(_))
        ));
    }

    #[test]
    fn an_image_goes_by_url_and_a_file_by_its_upload_token() {
        let img = OutboundMessage::media(user(), MediaKind::Image, "https://cdn.example/a.jpg");
        assert_eq!(
            send_body(&img, None).unwrap()["message"],
            json!({"attachment": {"type": "template", "payload": {"template_type": "media",
                "elements": [{"media_type": "image", "url": "https://cdn.example/a.jpg"}]}}})
        );
        let file = OutboundMessage::media(user(), MediaKind::File, "https://cdn.example/a.pdf");
        assert_eq!(
            send_body(&file, Some("tok1")).unwrap()["message"],
            json!({"attachment": {"type": "file", "payload": {"token": "tok1"}}})
        );
        assert!(send_body(&file, None).is_err());
        let private = OutboundMessage::text(Recipient::Comment("c1".into()), "x");
        assert!(matches!(
            send_body(&private, None),
            Err(ConnectorError::Unsupported)
        ));
    }

    #[test]
    fn errors_map_to_what_the_hub_does_about_them() {
        assert!(matches!(
            map_error(-216, "Access token is invalid"),
            ConnectorError::Unauthorized(_)
        ));
        assert!(matches!(
            map_error(-124, ""),
            ConnectorError::Unauthorized(_)
        ));
        // An invalid parameter must not cost the OA its connection.
        let e = map_error(-201, "Parameters are invalid");
        assert!(matches!(
            e,
            ConnectorError::Api {
                code: Some(-201),
                ..
            }
        ));
        assert!(!e.needs_reconnect() && !e.is_retryable());
        for code in WINDOW_ERRORS {
            let e = map_error(code, "no");
            assert!(matches!(e, ConnectorError::OutsideWindow(_)), "{code}");
            assert!(!e.is_retryable());
        }
        let e = map_error(-32, "too many");
        assert!(matches!(e, ConnectorError::RateLimited { .. }));
        assert!(e.is_retryable());
        assert!(map_error(-100, "unknown").is_retryable());
        assert!(!map_error(-210, "feature not enabled").is_retryable());
    }

    #[test]
    fn token_answers_accept_string_or_number_lifetimes() {
        let s =
            token_set(&json!({"access_token": "a1", "refresh_token": "r1", "expires_in": "90000"}))
                .unwrap();
        assert_eq!(s.access_token.expose(), "a1");
        assert_eq!(s.refresh_token.unwrap().expose(), "r1");
        assert_eq!(s.expires_in, Some(90_000));
        let n =
            token_set(&json!({"access_token": "a2", "refresh_token": "r2", "expires_in": 3600}))
                .unwrap();
        assert_eq!(n.expires_in, Some(3600));
    }

    #[test]
    fn a_refused_token_request_is_unauthorized() {
        let e = token_set(&json!({"error": -14014, "error_name": "Invalid refresh token"}))
            .unwrap_err();
        assert!(
            matches!(e, ConnectorError::Unauthorized(ref m) if m.contains("Invalid refresh token"))
        );
        assert!(matches!(
            token_set(&json!({"message": "?"})),
            Err(ConnectorError::Unauthorized(_))
        ));
        assert!(matches!(
            token_set(&json!({"error": -32, "message": "slow down"})),
            Err(ConnectorError::RateLimited { .. })
        ));
    }

    #[test]
    fn quota_and_oa_profile_are_read_leniently() {
        let q = quota(
            &json!({"message_id": "m", "quota": {"quota_type": "purchase_quota",
            "remain": "41", "total": 50, "expired_date": "2026-12-31"}}),
        )
        .unwrap();
        assert_eq!(q.remain, Some(41));
        assert_eq!(q.total, Some(50));
        assert!(q.is_paid());
        assert!(quota(&json!({"message_id": "m"})).is_none());
        let a = oa_account(&json!({"oa_id": 1357924680135792468u64, "name": "Shop A",
            "avatar": "https://s.zalo/a.jpg", "description": "Áo quần"}))
        .unwrap();
        assert_eq!(a.external_id, "1357924680135792468");
        assert_eq!(a.picture_url.as_deref(), Some("https://s.zalo/a.jpg"));
        assert_eq!(a.details["zalo_oa"]["description"], "Áo quần");
    }

    #[test]
    fn the_multipart_body_carries_one_file_part() {
        let (body, ct) = multipart_file("a\".pdf", "application/pdf", b"%PDF-1");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"file\"; filename=\"a_.pdf\""));
        assert!(text.ends_with(&format!("\r\n\r\n%PDF-1\r\n--{boundary}--\r\n")));
    }
}
