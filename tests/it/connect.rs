//! Connecting Pages and Instagram accounts through Facebook Login, disconnecting them, and
//! importing their history, against the Graph sandbox over loopback HTTP, through the real API
//! with a real session. The browser's redirects are followed by hand (reqwest without
//! redirects), so every hop is checked.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::store::entities::{channel_account, job, message, oauth_state};
use tongdai_connectors::Platform;
use tongdai_connectors::facebook::PAGE_WEBHOOK_FIELDS;
use tongdai_connectors::facebook::sandbox::{
    SandboxComment, SandboxConversation, SandboxFailure, SandboxInstagram, SandboxMessage,
    SandboxPage, SandboxPost, meta_json,
};
use tongdai_connectors::facebook::signature_header;

use crate::helpers::*;

/// Where the test server says it is reached (the dialog redirects there; we rewrite the host).
const PUBLIC: &str = "http://tongdai.test";
const CALLBACK: &str = "/api/v1/channels/facebook/callback";
const APP_ID: &str = "424242";
const PAGE: &str = "105200000000001";
const PAGE_TOKEN: &str = "EAAP_page_token_secret_one";
const PAGE2: &str = "105200000000002";
const PAGE2_TOKEN: &str = "EAAP_page_token_secret_two";
const IG: &str = "17841400000000077";

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("a Location header on {}", res.status()))
        .to_owned()
}

fn query(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Everything the server answered, to prove no secret ever left it.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn take(&mut self, res: reqwest::Response) -> (u16, Value) {
        let status = res.status().as_u16();
        if let Some(l) = res.headers().get("location") {
            self.0.push(l.to_str().unwrap_or_default().to_owned());
        }
        let text = res.text().await.unwrap();
        self.0.push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn assert_no_secrets(&self) {
        for body in &self.0 {
            for secret in [
                PAGE_TOKEN,
                PAGE2_TOKEN,
                "EAAL_sandbox_user",
                "EAAS_sandbox_user",
                APP_SECRET,
            ] {
                assert!(!body.contains(secret), "{secret} leaked in {body}");
            }
        }
    }
}

async fn setup() -> TestApp {
    setup_with(Options::default()).await
}

async fn setup_with(opts: Options) -> TestApp {
    let app = spawn_with(Options {
        public_url: Some(PUBLIC.into()),
        ..opts
    })
    .await;
    app.graph.set_app_id(APP_ID);
    app.graph.set_strict_tokens(true);
    app.graph.add_page(
        SandboxPage::new(PAGE, "Shop Áo Dài", PAGE_TOKEN)
            .with_instagram(SandboxInstagram::new(IG, "shopaodai")),
    );
    app.graph
        .add_page(SandboxPage::new(PAGE2, "Shop Giày", PAGE2_TOKEN));
    app
}

impl TestApp {
    /// `GET /connect` as `agent` → the dialog URL it redirects to.
    async fn dialog_url(&self, agent: &Agent, seen: &mut Seen) -> String {
        let res = no_redirect()
            .get(self.url("/api/v1/channels/facebook/connect"))
            .header("cookie", &agent.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "connect redirects to the dialog");
        let dialog = location(&res);
        seen.take(res).await;
        dialog
    }

    /// Open the dialog (the sandbox logs the user in) → the callback URL on this server.
    async fn through_dialog(&self, dialog: &str) -> String {
        let res = no_redirect().get(dialog).send().await.unwrap();
        assert_eq!(res.status(), 302, "the dialog redirects back");
        let back = location(&res);
        let rest = back
            .strip_prefix(PUBLIC)
            .unwrap_or_else(|| panic!("the dialog sends the browser to {PUBLIC}: {back}"));
        assert!(rest.starts_with(CALLBACK), "{rest}");
        self.url(rest)
    }

    /// Follow the callback URL with (or without) the agent's session cookie.
    async fn callback(&self, agent: Option<&Agent>, url: &str) -> reqwest::Response {
        let mut req = no_redirect().get(url);
        if let Some(a) = agent {
            req = req.header("cookie", &a.cookie);
        }
        req.send().await.unwrap()
    }

    /// The whole login: connect → dialog → callback; the attempt id the web app is sent to.
    async fn login_attempt(&self, agent: &Agent, seen: &mut Seen) -> String {
        let dialog = self.dialog_url(agent, seen).await;
        let back = self.through_dialog(&dialog).await;
        let res = self.callback(Some(agent), &back).await;
        assert_eq!(res.status(), 302);
        let to = location(&res);
        seen.take(res).await;
        to.strip_prefix("/channels/connect/")
            .unwrap_or_else(|| panic!("the callback sends the browser to the web app: {to}"))
            .to_owned()
    }

    /// Log in and connect `pages` and `instagram`; the accounts.
    async fn connect_through_login(
        &self,
        agent: &Agent,
        pages: &[&str],
        instagram: &[&str],
    ) -> Vec<Value> {
        let mut seen = Seen::default();
        let attempt = self.login_attempt(agent, &mut seen).await;
        let res = agent
            .post(
                &format!("/api/v1/channels/facebook/connect/{attempt}"),
                json!({ "pages": pages, "instagram": instagram }),
            )
            .await;
        let (status, body) = seen.take(res).await;
        assert_eq!(status, 200, "{body}");
        seen.assert_no_secrets();
        body.as_array().unwrap().clone()
    }

    async fn account(&self, agent: &Agent, platform: &str, external_id: &str) -> Value {
        agent
            .json("/api/v1/channel-accounts")
            .await
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["platform"] == platform && a["external_id"] == external_id)
            .cloned()
            .unwrap_or_else(|| panic!("no {platform} account {external_id}"))
    }

    /// Stored messages (and comments) with this platform id.
    async fn stored(&self, external_id: &str) -> u64 {
        message::Entity::find()
            .filter(message::Column::ExternalId.eq(external_id))
            .count(&self.state.db.write)
            .await
            .unwrap()
    }

    async fn backfill_jobs(&self) -> Vec<job::Model> {
        job::Entity::find()
            .filter(job::Column::Kind.eq("backfill"))
            .all(&self.state.db.write)
            .await
            .unwrap()
    }

    /// Make every waiting job due now (the retry delay has "passed").
    async fn make_jobs_due(&self) {
        job::Entity::update_many()
            .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
            .filter(job::Column::Status.eq("pending"))
            .exec(&self.state.db.write)
            .await
            .unwrap();
    }

    /// POST a signed body to the Facebook webhook; asserts 200.
    async fn webhook(&self, body: &Value) {
        let bytes = meta_json(body);
        let res = self
            .http
            .post(self.url("/webhooks/facebook"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature_header(APP_SECRET, &bytes))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    fn requests_to(&self, path: &str) -> usize {
        self.graph
            .requests()
            .iter()
            .filter(|r| r.graph_path() == path)
            .count()
    }
}

#[tokio::test]
async fn a_marketer_connects_a_page_and_its_instagram_account_through_facebook_login() {
    let app = setup().await;
    let marketer = app.user("mkt@a.vn", Role::Marketer, "Shop A").await;
    let mut seen = Seen::default();

    // The API asks for the dialog URL as JSON; the browser gets the same URL as a 302.
    let res = marketer
        .get("/api/v1/channels/facebook/connect?format=json")
        .await;
    let (status, body) = seen.take(res).await;
    assert_eq!(status, 200);
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with(&app.graph.oauth_dialog_url()), "{url}");

    let dialog = app.dialog_url(&marketer, &mut seen).await;
    assert!(dialog.starts_with(&app.graph.oauth_dialog_url()));
    assert_eq!(query(&dialog, "client_id").as_deref(), Some(APP_ID));
    assert_eq!(
        query(&dialog, "redirect_uri"),
        Some(format!("{PUBLIC}{CALLBACK}"))
    );
    let scope = query(&dialog, "scope").unwrap();
    for s in [
        "pages_show_list",
        "pages_messaging",
        "instagram_manage_messages",
    ] {
        assert!(scope.contains(s), "{scope}");
    }
    let csrf = query(&dialog, "state").unwrap();
    assert!(csrf.len() >= 32);
    // Only its hash is stored.
    let rows = oauth_state::Entity::find()
        .all(&app.state.db.write)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.state_hash != csrf && r.grant_enc.is_none())
    );

    // The sandbox logs the user in and sends the browser back with a code.
    let back = app.through_dialog(&dialog).await;
    assert!(query(&back, "code").is_some());
    assert_eq!(query(&back, "state").as_deref(), Some(csrf.as_str()));
    let res = app.callback(Some(&marketer), &back).await;
    assert_eq!(res.status(), 302);
    let to = location(&res);
    seen.take(res).await;
    let attempt = to.strip_prefix("/channels/connect/").unwrap().to_owned();

    // The long-lived user token is kept sealed on the attempt, never in clear.
    let row = oauth_state::Entity::find_by_id(attempt.parse::<uuid::Uuid>().unwrap())
        .one(&app.state.db.write)
        .await
        .unwrap()
        .expect("the attempt is stored");
    let grant = row.grant_enc.expect("the grant is stored");
    assert!(!grant.is_empty());
    assert!(!String::from_utf8_lossy(&grant).contains("EAAL_sandbox_user"));
    let exchanges: Vec<_> = app
        .graph
        .requests()
        .into_iter()
        .filter(|r| r.graph_path() == "oauth/access_token")
        .collect();
    assert_eq!(exchanges.len(), 2, "code exchange, then the long-lived one");
    assert_eq!(
        exchanges[1].query_param("grant_type").as_deref(),
        Some("fb_exchange_token")
    );

    // The pages the user manages, with the linked Instagram account, and no tokens.
    let res = marketer
        .get(&format!(
            "/api/v1/channels/facebook/connect/{attempt}/pages"
        ))
        .await;
    let (status, pages) = seen.take(res).await;
    assert_eq!(status, 200, "{pages}");
    let pages = pages.as_array().unwrap();
    assert_eq!(pages.len(), 2);
    let first = pages.iter().find(|p| p["id"] == PAGE).unwrap();
    assert_eq!(first["name"], "Shop Áo Dài");
    assert_eq!(first["already_connected"], false);
    assert!(
        first["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "MESSAGING")
    );
    assert_eq!(first["instagram"]["id"], IG);
    assert_eq!(first["instagram"]["username"], "shopaodai");
    assert_eq!(first["instagram"]["already_connected"], false);
    let second = pages.iter().find(|p| p["id"] == PAGE2).unwrap();
    assert!(second["instagram"].is_null());

    // Pick the Page and its Instagram account.
    let mut ws = app.ws(&marketer, None).await;
    let res = marketer
        .post(
            &format!("/api/v1/channels/facebook/connect/{attempt}"),
            json!({ "pages": [PAGE], "instagram": [IG] }),
        )
        .await;
    let (status, accounts) = seen.take(res).await;
    assert_eq!(status, 200, "{accounts}");
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    let page = &accounts[0];
    assert_eq!(page["platform"], "facebook");
    assert_eq!(page["external_id"], PAGE);
    assert_eq!(page["name"], "Shop Áo Dài");
    assert_eq!(page["status"], "active");
    assert_eq!(page["has_access_token"], true);
    assert_eq!(page["backfill"]["state"], "queued");
    let ig = &accounts[1];
    assert_eq!(ig["platform"], "instagram");
    assert_eq!(ig["external_id"], IG);
    assert_eq!(ig["name"], "@shopaodai");
    assert_eq!(ig["status"], "active");
    assert_eq!(ig["settings"]["page_id"], PAGE);
    let frame = frame_of(&mut ws, "channel.updated").await;
    assert_eq!(frame["data"]["status"], "active");

    // The app is installed on the Page with every field tongdai handles; not on the other.
    let fields = app
        .graph
        .subscriptions(PAGE)
        .expect("the Page is subscribed");
    assert_eq!(fields, PAGE_WEBHOOK_FIELDS.map(str::to_owned).to_vec());
    assert!(app.graph.subscriptions(PAGE2).is_none());

    // Both accounts hold the Page token, sealed.
    let stored = channel_account::Entity::find()
        .all(&app.state.db.write)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for a in &stored {
        let sealed = a.secrets_enc.as_deref().unwrap();
        assert!(!String::from_utf8_lossy(sealed).contains(PAGE_TOKEN));
        assert_eq!(
            tongdai::services::channels::account_token(&app.state, a).as_deref(),
            Some(PAGE_TOKEN)
        );
    }
    // A history import is queued per account.
    assert_eq!(app.backfill_jobs().await.len(), 2);

    // The attempt is single use.
    let res = marketer
        .post(
            &format!("/api/v1/channels/facebook/connect/{attempt}"),
            json!({ "pages": [PAGE] }),
        )
        .await;
    let (status, _) = seen.take(res).await;
    assert_eq!(status, 404);
    assert!(
        oauth_state::Entity::find_by_id(attempt.parse::<uuid::Uuid>().unwrap())
            .one(&app.state.db.write)
            .await
            .unwrap()
            .is_none(),
        "the used attempt is deleted"
    );

    // A second login shows them as connected.
    let again = app.login_attempt(&marketer, &mut seen).await;
    let res = marketer
        .get(&format!("/api/v1/channels/facebook/connect/{again}/pages"))
        .await;
    let (_, pages) = seen.take(res).await;
    let first = pages
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == PAGE)
        .unwrap();
    assert_eq!(first["already_connected"], true);
    assert_eq!(first["instagram"]["already_connected"], true);
    // Connecting it again refreshes it; the import already queued is not queued twice.
    let res = marketer
        .post(
            &format!("/api/v1/channels/facebook/connect/{again}"),
            json!({ "pages": [PAGE] }),
        )
        .await;
    let (status, again) = seen.take(res).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again[0]["id"], page["id"]);
    assert_eq!(app.backfill_jobs().await.len(), 2);

    // A webhook for the Page now lands in its inbox.
    app.customer_says(PAGE, "PSID_1", "m_live_1", "Còn size M không shop?")
        .await;
    app.drain().await;
    assert_eq!(app.stored("m_live_1").await, 1);

    let listed = marketer.get("/api/v1/channel-accounts").await;
    seen.take(listed).await;
    seen.assert_no_secrets();

    // The OpenAPI document describes the flow.
    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/channels/facebook/connect",
        "/api/v1/channels/facebook/callback",
        "/api/v1/channels/facebook/connect/{attempt_id}/pages",
        "/api/v1/channels/facebook/connect/{attempt_id}",
        "/api/v1/channel-accounts/{id}/disconnect",
        "/api/v1/channel-accounts/{id}/backfill",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} in the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn unknown_expired_reused_and_foreign_states_are_refused() {
    let app = setup().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let other = app.user("o@b.vn", Role::Owner, "Shop B").await;
    let mut seen = Seen::default();

    // No state, or one tongdai never issued.
    for q in ["?code=abc", "?code=abc&state=forged-state"] {
        let res = app
            .callback(Some(&owner), &app.url(&format!("{CALLBACK}{q}")))
            .await;
        let (status, body) = seen.take(res).await;
        assert_eq!(status, 400);
        assert_eq!(body["code"], "invalid_state", "{body}");
    }

    // Another workspace's session cannot complete this workspace's attempt …
    let dialog = app.dialog_url(&owner, &mut seen).await;
    let back = app.through_dialog(&dialog).await;
    let res = app.callback(Some(&other), &back).await;
    let (status, body) = seen.take(res).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "state_mismatch");
    // … and that did not use it up.
    let res = app.callback(Some(&owner), &back).await;
    assert_eq!(res.status(), 302);
    let attempt = location(&res).rsplit('/').next().unwrap().to_owned();
    seen.take(res).await;

    // Replaying the callback: already used.
    let res = app.callback(Some(&owner), &back).await;
    let (status, body) = seen.take(res).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "state_used");

    // Someone else's attempt is not theirs to list or use.
    let res = other
        .get(&format!(
            "/api/v1/channels/facebook/connect/{attempt}/pages"
        ))
        .await;
    assert_eq!(res.status(), 404);
    let same_ws = app.user("m@a.vn", Role::Marketer, "Shop A").await;
    let res = same_ws
        .post(
            &format!("/api/v1/channels/facebook/connect/{attempt}"),
            json!({ "pages": [PAGE] }),
        )
        .await;
    assert_eq!(res.status(), 404, "attempts are personal");

    // An attempt older than its 15 minutes.
    let dialog = app.dialog_url(&owner, &mut seen).await;
    let back = app.through_dialog(&dialog).await;
    oauth_state::Entity::update_many()
        .col_expr(
            oauth_state::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::minutes(1)),
        )
        .filter(oauth_state::Column::GrantEnc.is_null())
        .exec(&app.state.db.write)
        .await
        .unwrap();
    let res = app.callback(Some(&owner), &back).await;
    let (status, body) = seen.take(res).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "state_expired");
    let res = app.callback(Some(&owner), &back).await;
    let (_, body) = seen.take(res).await;
    assert_eq!(
        body["code"], "invalid_state",
        "an expired attempt is forgotten"
    );

    // A callback without any session works on the state alone (JSON for API clients).
    let dialog = app.dialog_url(&owner, &mut seen).await;
    let back = app.through_dialog(&dialog).await;
    let res = app.callback(None, &format!("{back}&format=json")).await;
    let (status, body) = seen.take(res).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["attempt_id"].as_str().is_some());
    seen.assert_no_secrets();
}

#[tokio::test]
async fn a_cancelled_dialog_is_reported_and_ends_the_attempt() {
    let app = setup().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let mut seen = Seen::default();
    app.graph.set_consent(false);

    let dialog = app.dialog_url(&owner, &mut seen).await;
    let back = app.through_dialog(&dialog).await;
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert!(query(&back, "code").is_none());
    let res = app.callback(Some(&owner), &back).await;
    let (status, body) = seen.take(res).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "login_cancelled");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Permissions error"),
        "{body}"
    );
    assert_eq!(
        oauth_state::Entity::find()
            .count(&app.state.db.write)
            .await
            .unwrap(),
        0,
        "the attempt is gone"
    );
    assert_eq!(app.requests_to("oauth/access_token"), 0);
    let res = app.callback(Some(&owner), &back).await;
    let (_, body) = seen.take(res).await;
    assert_eq!(body["code"], "invalid_state");
    seen.assert_no_secrets();
}

#[tokio::test]
async fn connecting_refuses_what_the_user_does_not_manage_and_needs_the_app() {
    let app = setup().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let agent = app.user("a@a.vn", Role::Agent, "Shop A").await;
    let other = app.user("o@b.vn", Role::Owner, "Shop B").await;
    let mut seen = Seen::default();

    // Agents may not connect channels.
    let res = agent
        .get("/api/v1/channels/facebook/connect?format=json")
        .await;
    assert_eq!(res.status(), 403);

    let attempt = app.login_attempt(&owner, &mut seen).await;
    let path = format!("/api/v1/channels/facebook/connect/{attempt}");
    for (body, code) in [
        (json!({ "pages": [] }), "nothing_selected"),
        (json!({ "pages": ["999999"] }), "unknown_page"),
        (json!({ "instagram": ["178414999"] }), "unknown_instagram"),
    ] {
        let res = owner.post(&path, body).await;
        let (status, err) = seen.take(res).await;
        assert_eq!(status, 400);
        assert_eq!(err["code"], code);
    }
    // A Page another workspace has connected.
    app.connect_page(&other, PAGE2).await;
    let res = owner.post(&path, json!({ "pages": [PAGE2] })).await;
    assert_eq!(res.status(), 409);
    assert!(app.graph.subscriptions(PAGE2).is_none());
    // None of that used the attempt up.
    let res = owner.post(&path, json!({ "pages": [PAGE] })).await;
    let (status, body) = seen.take(res).await;
    assert_eq!(status, 200, "{body}");
    seen.assert_no_secrets();

    // Without the Meta app configured, the flow says so.
    let bare = setup_with(Options {
        without_facebook_app: true,
        ..Default::default()
    })
    .await;
    let owner = bare.user("o@c.vn", Role::Owner, "Shop C").await;
    let res = owner
        .get("/api/v1/channels/facebook/connect?format=json")
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_configured");
}

#[tokio::test]
async fn disconnecting_removes_the_app_from_the_page_and_forgets_the_token() {
    let app = setup_with(Options {
        backfill_days: Some(0),
        ..Default::default()
    })
    .await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let accounts = app
        .connect_through_login(&owner, &[PAGE, PAGE2], &[IG])
        .await;
    assert_eq!(accounts.len(), 3);
    assert!(
        accounts.iter().all(|a| a["backfill"].is_null()),
        "no import when backfill_days = 0"
    );
    assert!(app.backfill_jobs().await.is_empty());
    let id = |platform: &str, ext: &str| {
        accounts
            .iter()
            .find(|a| a["platform"] == platform && a["external_id"] == ext)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // The Instagram account goes; its Page stays connected, so does the subscription.
    let res = owner
        .post(
            &format!(
                "/api/v1/channel-accounts/{}/disconnect",
                id("instagram", IG)
            ),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["unsubscribed"], false);
    assert!(out.get("error").is_none());
    assert_eq!(out["account"]["status"], "disabled");
    assert_eq!(out["account"]["has_access_token"], false);
    assert!(app.graph.subscriptions(PAGE).is_some());

    // The Page goes: the app is removed from it.
    let mut ws = app.ws(&owner, None).await;
    let res = owner
        .post(
            &format!(
                "/api/v1/channel-accounts/{}/disconnect",
                id("facebook", PAGE)
            ),
            json!({}),
        )
        .await;
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["unsubscribed"], true, "{out}");
    assert_eq!(out["account"]["status"], "disabled");
    assert_eq!(out["account"]["has_access_token"], false);
    assert!(app.graph.subscriptions(PAGE).is_none());
    let frame = frame_of(&mut ws, "channel.updated").await;
    assert_eq!(frame["data"]["status"], "disabled");
    let stored = channel_account::Entity::find()
        .filter(channel_account::Column::ExternalId.eq(PAGE))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.secrets_enc.is_none());

    // When Meta fails the removal, the local disconnect still happens and says so.
    app.graph.push_failure_at(
        &format!("{PAGE2}/subscribed_apps"),
        SandboxFailure::ServerError,
    );
    let res = owner
        .post(
            &format!(
                "/api/v1/channel-accounts/{}/disconnect",
                id("facebook", PAGE2)
            ),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["unsubscribed"], false);
    assert!(out["error"].as_str().unwrap().contains(PAGE2), "{out}");
    assert_eq!(out["account"]["status"], "disabled");
    assert_eq!(out["account"]["has_access_token"], false);
    assert!(!out.to_string().contains(PAGE2_TOKEN));

    // Reconnecting brings a disconnected Page back (same account, active, subscribed).
    let again = app.connect_through_login(&owner, &[PAGE], &[]).await;
    assert_eq!(again[0]["id"].as_str().unwrap(), id("facebook", PAGE));
    assert_eq!(again[0]["status"], "active");
    assert!(app.graph.subscriptions(PAGE).is_some());

    // Another workspace's account is not found.
    let stranger = app.user("o@b.vn", Role::Owner, "Shop B").await;
    let res = stranger
        .post(
            &format!(
                "/api/v1/channel-accounts/{}/disconnect",
                id("facebook", PAGE)
            ),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
}

fn t(hours_ago: i64) -> chrono::DateTime<Utc> {
    Utc::now() - Duration::hours(hours_ago)
}

/// Three Messenger threads (one older than the window), one Instagram thread, two Page posts
/// with comments (and one older post), one Instagram media with a comment.
fn seed_history(app: &TestApp) {
    let g = &app.graph;
    g.set_list_page_size(1);
    let conv =
        |id: &str, account: &str, platform: Platform, user: &str, messages: Vec<SandboxMessage>| {
            SandboxConversation {
                id: id.into(),
                account_id: account.into(),
                platform,
                user_id: user.into(),
                user_name: format!("Khách {user}"),
                messages,
            }
        };
    g.add_conversation(conv(
        "t_1",
        PAGE,
        Platform::Facebook,
        "PSID_1",
        vec![
            SandboxMessage::inbound("m_h1", "Chào shop", t(3)),
            SandboxMessage::outbound("m_h2", "Dạ shop chào bạn", t(2)),
            SandboxMessage::inbound("m_h3", "Còn size M không?", t(1)),
        ],
    ));
    g.add_conversation(conv(
        "t_2",
        PAGE,
        Platform::Facebook,
        "PSID_2",
        vec![SandboxMessage::inbound(
            "m_h4",
            "Ship Hà Nội bao lâu?",
            t(5),
        )],
    ));
    g.add_conversation(conv(
        "t_3",
        PAGE,
        Platform::Facebook,
        "PSID_3",
        vec![SandboxMessage::inbound("m_old", "Tháng trước", t(50 * 24))],
    ));
    g.add_conversation(conv(
        "t_ig",
        IG,
        Platform::Instagram,
        "IGSID_1",
        vec![SandboxMessage::inbound("ig_m1", "Giá bao nhiêu ạ", t(4))],
    ));
    let p1 = format!("{PAGE}_1001");
    let p2 = format!("{PAGE}_1002");
    let p_old = format!("{PAGE}_1000");
    g.add_post(SandboxPost::facebook(&p1, PAGE, "Áo dài mới về", t(24)));
    g.add_post(SandboxPost::facebook(&p2, PAGE, "Giảm giá 20%", t(48)));
    g.add_post(SandboxPost::facebook(&p_old, PAGE, "Cũ", t(40 * 24)));
    g.add_comment(SandboxComment::new(
        "1001_c1",
        &p1,
        ("PSID_5", "Lê Văn C"),
        "Đẹp quá",
        t(20),
    ));
    g.add_comment(
        SandboxComment::new(
            "1001_c2",
            &p1,
            ("PSID_6", "Phạm D"),
            "Mình cũng thích",
            t(19),
        )
        .reply_to("1001_c1"),
    );
    g.add_comment(SandboxComment::new(
        "1002_c3",
        &p2,
        ("PSID_7", "Hoàng E"),
        "0912 345 678 tư vấn em",
        t(40),
    ));
    g.add_comment(SandboxComment::new(
        "1000_c_old",
        &p_old,
        ("PSID_8", "Cũ"),
        "cũ",
        t(40 * 24),
    ));
    g.add_post(SandboxPost::instagram("ig_media_1", IG, "Lookbook", t(10)));
    g.add_comment(SandboxComment::new(
        "ig_c1",
        "ig_media_1",
        ("IGSID_2", "khachig"),
        "Xinh quá",
        t(9),
    ));
}

fn comment_webhook(post: &str, id: &str, parent: &str, from: (&str, &str), text: &str) -> Value {
    json!({"object": "page", "entry": [{"id": PAGE, "time": Utc::now().timestamp(), "changes": [{"field": "feed", "value": {
        "item": "comment", "verb": "add", "post_id": post, "comment_id": id, "parent_id": parent,
        "from": {"id": from.0, "name": from.1}, "created_time": t(20).timestamp(), "message": text}}]}]})
}

#[tokio::test]
async fn backfill_imports_history_in_pages_once_alongside_webhooks() {
    let app = setup().await;
    seed_history(&app);
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;

    // A message of the history arrives by webhook before the Page is connected (kept, unrouted).
    app.customer_says(PAGE, "PSID_1", "m_h3", "Còn size M không?")
        .await;
    app.drain().await;
    assert_eq!(app.stored("m_h3").await, 0);

    let accounts = app.connect_through_login(&owner, &[PAGE], &[IG]).await;
    let page_id = accounts[0]["id"].as_str().unwrap().to_owned();
    let ig_id = accounts[1]["id"].as_str().unwrap().to_owned();
    app.drain().await;
    assert_eq!(app.stored("m_h3").await, 1, "re-queued on connect");

    let mut ws = app.ws(&owner, None).await;
    app.run_jobs().await;

    // Every message and comment of the window once; nothing older.
    for id in [
        "m_h1", "m_h2", "m_h3", "m_h4", "1001_c1", "1001_c2", "1002_c3", "ig_m1", "ig_c1",
    ] {
        assert_eq!(app.stored(id).await, 1, "{id}");
    }
    for id in ["m_old", "1000_c_old"] {
        assert_eq!(app.stored(id).await, 0, "{id} is older than the window");
    }
    // The page's outbound message is recorded as sent by the Page.
    let out = message::Entity::find()
        .filter(message::Column::ExternalId.eq("m_h2"))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.direction, "out");

    // The same messages by webhook after the import: still once.
    app.customer_says(PAGE, "PSID_1", "m_h1", "Chào shop").await;
    app.webhook(&comment_webhook(
        &format!("{PAGE}_1001"),
        "1001_c1",
        &format!("{PAGE}_1001"),
        ("PSID_5", "Lê Văn C"),
        "Đẹp quá",
    ))
    .await;
    app.drain().await;
    assert_eq!(app.stored("m_h1").await, 1);
    assert_eq!(app.stored("1001_c1").await, 1);

    // Progress: done, with counts; page sizes of 1 mean a page per thread and per post.
    let page = app.account(&owner, "facebook", PAGE).await;
    let b = &page["backfill"];
    assert_eq!(b["state"], "done", "{b}");
    assert_eq!(b["messages"], 4);
    assert_eq!(b["comments"], 3);
    assert_eq!(b["conversations_pages"], 3);
    assert_eq!(b["comments_pages"], 3);
    assert!(b["cursor_conversations"].is_null() && b["cursor_comments"].is_null());
    assert!(b["started_at"].is_string() && b["finished_at"].is_string());
    assert!(b["error"].is_null());
    let ig = app.account(&owner, "instagram", IG).await;
    assert_eq!(ig["backfill"]["state"], "done");
    assert_eq!(ig["backfill"]["messages"], 1);
    assert_eq!(ig["backfill"]["comments"], 1);

    // Progress was published after every page, ending with `done`, for each account.
    let mut last = std::collections::HashMap::new();
    while last.len() < 2 {
        let f = frame_of(&mut ws, "channel.backfill").await;
        let state = f["data"]["backfill"]["state"].as_str().unwrap().to_owned();
        if state == "done" {
            last.insert(
                f["data"]["channel_account_id"].as_str().unwrap().to_owned(),
                f,
            );
        }
    }
    assert!(last.contains_key(&page_id) && last.contains_key(&ig_id));
    assert!(app.backfill_jobs().await.iter().all(|j| j.status == "done"));

    // Start it again: queued, refused while under way, then done again without duplicates.
    let res = owner
        .post(
            &format!("/api/v1/channel-accounts/{page_id}/backfill"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["backfill"]["state"], "queued");
    let res = owner
        .post(
            &format!("/api/v1/channel-accounts/{page_id}/backfill"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    app.run_jobs().await;
    let page = app.account(&owner, "facebook", PAGE).await;
    assert_eq!(page["backfill"]["state"], "done");
    assert_eq!(page["backfill"]["messages"], 4);
    for id in [
        "m_h1", "m_h2", "m_h3", "m_h4", "1001_c1", "1001_c2", "1002_c3",
    ] {
        assert_eq!(app.stored(id).await, 1, "{id}");
    }
    // Agents may not start it.
    let agent = app.user("a@a.vn", Role::Agent, "Shop A").await;
    let res = agent
        .post(
            &format!("/api/v1/channel-accounts/{page_id}/backfill"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_throttled_backfill_comes_back_later_and_resumes_from_its_cursor() {
    let app = setup().await;
    seed_history(&app);
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_through_login(&owner, &[PAGE], &[]).await;
    // The post listing is throttled (code 32, regain in 5 minutes) after the threads are in.
    app.graph
        .push_failure_at(&format!("{PAGE}/posts"), SandboxFailure::RateLimited);
    app.run_jobs().await;

    let b = app.account(&owner, "facebook", PAGE).await["backfill"].clone();
    assert_eq!(b["state"], "running", "{b}");
    assert_eq!(b["conversations_pages"], 3);
    assert_eq!(b["messages"], 4);
    assert_eq!(b["comments_pages"], 0);
    assert!(b["error"].as_str().unwrap().contains("rate limited"), "{b}");
    assert!(b["retry_at"].is_string());
    let jobs = app.backfill_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, "pending");
    assert!(
        jobs[0].run_at > Utc::now() + Duration::minutes(4),
        "retried after the platform's regain time, not the schedule"
    );
    assert_eq!(app.requests_to(&format!("{PAGE}/conversations")), 3);

    // Later: it resumes at the comments, without listing the threads again.
    app.make_jobs_due().await;
    app.run_jobs().await;
    let b = app.account(&owner, "facebook", PAGE).await["backfill"].clone();
    assert_eq!(b["state"], "done", "{b}");
    assert_eq!(b["comments"], 3);
    assert!(b["error"].is_null());
    assert_eq!(app.requests_to(&format!("{PAGE}/conversations")), 3);
    assert_eq!(app.backfill_jobs().await[0].status, "done");
    for id in ["m_h1", "m_h4", "1001_c1", "1002_c3"] {
        assert_eq!(app.stored(id).await, 1, "{id}");
    }
}

#[tokio::test]
async fn a_refused_token_during_backfill_marks_the_account_for_reconnection() {
    let app = setup().await;
    seed_history(&app);
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let accounts = app.connect_through_login(&owner, &[PAGE], &[]).await;
    let id = accounts[0]["id"].as_str().unwrap().to_owned();
    let mut ws = app.ws(&owner, None).await;
    // Code 190: the token expired.
    app.graph.push_failure_at(
        &format!("{PAGE}/conversations"),
        SandboxFailure::TokenExpired,
    );
    app.run_jobs().await;

    let page = app.account(&owner, "facebook", PAGE).await;
    assert_eq!(page["status"], "needs_reauth");
    assert_eq!(page["health"]["state"], "needs_reauth");
    assert_eq!(page["backfill"]["state"], "failed");
    assert!(
        page["backfill"]["error"]
            .as_str()
            .unwrap()
            .contains("reconnect"),
        "{page}"
    );
    let frame = frame_of(&mut ws, "channel.updated").await;
    assert_eq!(frame["data"]["status"], "needs_reauth");
    let jobs = app.backfill_jobs().await;
    assert_eq!(
        jobs[0].status, "dead",
        "no retry storm against a refused token"
    );
    assert_eq!(app.requests_to(&format!("{PAGE}/conversations")), 1);

    // It cannot be started again until the account is reconnected …
    let res = owner
        .post(
            &format!("/api/v1/channel-accounts/{id}/backfill"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 422);
    // … which Facebook Login does.
    let again = app.connect_through_login(&owner, &[PAGE], &[]).await;
    assert_eq!(again[0]["status"], "active");
    app.run_jobs().await;
    let page = app.account(&owner, "facebook", PAGE).await;
    assert_eq!(page["backfill"]["state"], "done");
}

#[tokio::test]
async fn backfill_reads_long_conversations_and_old_posts_still_commented_on_once() {
    let app = setup().await;
    let g = &app.graph;
    g.set_list_page_size(1);
    g.set_nested_page_size(2);
    // Seven messages in the 30-day window (more than three pages of two), three before it.
    let mut messages: Vec<SandboxMessage> = (1..=7)
        .map(|i| {
            let id = format!("m_long_{i}");
            if i == 4 {
                SandboxMessage::outbound(&id, "Dạ shop gửi ảnh ạ", t(30 - i))
            } else {
                SandboxMessage::inbound(&id, &format!("tin {i}"), t(30 - i))
            }
        })
        .collect();
    messages.extend(
        (1..=3).map(|i| SandboxMessage::inbound(&format!("m_long_old_{i}"), "cũ", t(40 * 24 + i))),
    );
    g.add_conversation(SandboxConversation {
        id: "t_long".into(),
        account_id: PAGE.into(),
        platform: Platform::Facebook,
        user_id: "PSID_L".into(),
        user_name: "Khách Dài".into(),
        messages,
    });
    // A post of the window with more comments than a page; an old post nobody comments on
    // any more; an older pinned post that customers still comment on.
    let fresh = format!("{PAGE}_3000");
    let pinned = format!("{PAGE}_2000");
    let quiet = format!("{PAGE}_1500");
    g.add_post(SandboxPost::facebook(&fresh, PAGE, "Hàng mới về", t(48)));
    g.add_post(SandboxPost::facebook(&pinned, PAGE, "Bảng giá", t(60 * 24)));
    g.add_post(SandboxPost::facebook(
        &quiet,
        PAGE,
        "Khai trương",
        t(45 * 24),
    ));
    for (id, h) in [("3000_c1", 47), ("3000_c2", 46), ("3000_c3", 45)] {
        g.add_comment(SandboxComment::new(
            id,
            &fresh,
            ("PSID_F", "Khách F"),
            "Giá sao ạ?",
            t(h),
        ));
    }
    g.add_comment(SandboxComment::new(
        "2000_old",
        &pinned,
        ("PSID_O", "Khách O"),
        "cũ",
        t(59 * 24),
    ));
    g.add_comment(SandboxComment::new(
        "2000_new",
        &pinned,
        ("PSID_P", "Khách P"),
        "Còn hàng không shop?",
        t(5),
    ));
    g.add_comment(
        SandboxComment::new(
            "2000_reply",
            &pinned,
            (PAGE, "Shop Áo Dài"),
            "Dạ còn ạ",
            t(4),
        )
        .reply_to("2000_new"),
    );
    g.add_comment(SandboxComment::new(
        "1500_old",
        &quiet,
        ("PSID_Q", "Khách Q"),
        "cũ",
        t(44 * 24),
    ));
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_through_login(&owner, &[PAGE], &[]).await;
    app.run_jobs().await;

    let imported: Vec<String> = (1..=7)
        .map(|i| format!("m_long_{i}"))
        .chain(["3000_c1", "3000_c2", "3000_c3", "2000_new", "2000_reply"].map(str::to_owned))
        .collect();
    let older = [
        "m_long_old_1",
        "m_long_old_2",
        "m_long_old_3",
        "2000_old",
        "1500_old",
    ];
    for id in &imported {
        assert_eq!(app.stored(id).await, 1, "{id}");
    }
    for id in older {
        assert_eq!(app.stored(id).await, 0, "{id} is older than the window");
    }
    // The shop's answer under the old post joins its customer's thread.
    let by_id = |id: &'static str| {
        message::Entity::find()
            .filter(message::Column::ExternalId.eq(id))
            .one(&app.state.db.write)
    };
    let question = by_id("2000_new").await.unwrap().unwrap();
    let answer = by_id("2000_reply").await.unwrap().unwrap();
    assert_eq!(answer.conversation_id, question.conversation_id);
    assert_eq!(answer.direction, "out");
    // Only what is needed is read: the quiet post's comments never are.
    assert_eq!(app.requests_to("t_long/messages"), 3);
    assert_eq!(app.requests_to(&format!("{fresh}/comments")), 1);
    assert_eq!(app.requests_to(&format!("{pinned}/comments")), 2);
    assert_eq!(app.requests_to(&format!("{quiet}/comments")), 0);

    let b = app.account(&owner, "facebook", PAGE).await["backfill"].clone();
    assert_eq!(b["state"], "done", "{b}");
    assert_eq!(b["messages"], 7);
    assert_eq!(b["comments"], 5);
    // A page per request: one conversation and three pages of its messages; three posts and
    // three pages of comments.
    assert_eq!(b["conversations_pages"], 4);
    assert_eq!(b["comments_pages"], 6);
    assert!(b["cursor_conversations"].is_null() && b["cursor_comments"].is_null());

    // Importing again stores nothing twice.
    let page_id = app.account(&owner, "facebook", PAGE).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .post(
            &format!("/api/v1/channel-accounts/{page_id}/backfill"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let b = app.account(&owner, "facebook", PAGE).await["backfill"].clone();
    assert_eq!(b["state"], "done", "{b}");
    assert_eq!(b["messages"], 7);
    assert_eq!(b["comments"], 5);
    for id in &imported {
        assert_eq!(app.stored(id).await, 1, "{id}");
    }
}
