//! Sessions, CSRF, roles, tenancy and the login limiter.

use serde_json::{Value, json};
use tongdai::domain::role::Role;

use crate::helpers::*;

#[tokio::test]
async fn a_user_of_workspace_b_gets_404_for_workspace_a_conversation() {
    let app = spawn_app().await;
    let a = app.user("a@a.vn", Role::Owner, "Shop A").await;
    let b = app.user("b@b.vn", Role::Owner, "Shop B").await;
    app.connect_page(&a, "111").await;
    app.customer_says("111", "u1", "m_1", "Hàng còn không?")
        .await;
    app.drain().await;
    let page: Value = a.json("/api/v1/conversations").await;
    let conv = page["items"][0]["id"].as_str().unwrap().to_owned();
    let contact = page["items"][0]["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(
        b.get(&format!("/api/v1/conversations/{conv}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        b.get(&format!("/api/v1/conversations/{conv}/messages"))
            .await
            .status(),
        404
    );
    assert_eq!(
        b.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text":"hack"})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        b.patch(
            &format!("/api/v1/conversations/{conv}"),
            json!({"status":"resolved"})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        b.get(&format!("/api/v1/contacts/{contact}")).await.status(),
        404
    );
    let list: Value = b.json("/api/v1/conversations").await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let body: Value = b
        .get(&format!("/api/v1/conversations/{conv}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "not_found");
    // A still sees it.
    assert_eq!(
        a.get(&format!("/api/v1/conversations/{conv}"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_account() {
    let app = spawn_app().await;
    app.user("a@a.vn", Role::Owner, "Shop A").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = app
            .http
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email":"a@a.vn","password":"wrong password"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    // One attempt was spent by the helper's successful login; 4 more wrong ones are allowed.
    assert_eq!(&statuses[..4], &[401, 401, 401, 401]);
    assert_eq!(statuses[4], 429);
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email":"a@a.vn","password":PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "even the right password waits");
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

#[tokio::test]
async fn session_cookie_is_httponly_and_state_changes_need_the_csrf_header() {
    let app = spawn_app().await;
    auth_user(&app).await;
    let res = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email":"a@a.vn","password":PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("tongdai_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && !session.contains("Secure")
    );

    let a = app.login("a@a.vn").await;
    let no_csrf = a
        .client
        .post(app.url("/api/v1/labels"))
        .json(&json!({"name":"VIP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let body: Value = no_csrf.json().await.unwrap();
    assert_eq!(body["code"], "csrf");
    assert_eq!(
        a.post("/api/v1/labels", json!({"name":"VIP"}))
            .await
            .status(),
        201
    );

    let anon = app
        .http
        .get(app.url("/api/v1/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    // Logout ends the session.
    assert_eq!(a.post("/api/v1/auth/logout", json!({})).await.status(), 204);
    assert_eq!(
        app.http
            .get(app.url("/api/v1/auth/me"))
            .header("cookie", &a.cookie)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

async fn auth_user(app: &TestApp) {
    tongdai::services::auth::create_user(
        &app.state.db,
        "a@a.vn",
        PASSWORD,
        "A",
        Role::Owner,
        "Shop A",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn api_keys_authenticate_integrations_and_roles_are_enforced() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let key: Value = owner
        .post("/api/v1/api-keys", json!({"name":"website","role":"agent"}))
        .await
        .json()
        .await
        .unwrap();
    let secret = key["key"].as_str().unwrap().to_owned();
    let listed: Value = owner.json("/api/v1/api-keys").await;
    assert!(listed[0].get("key").is_none(), "the key is shown once");
    let with_key = app
        .http
        .get(app.url("/api/v1/conversations"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), 200);
    let forbidden = app
        .http
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&secret)
        .json(&json!({"platform":"facebook","external_id":"1","name":"x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forbidden.status(),
        403,
        "an agent key cannot connect channels"
    );
    let wrong = app
        .http
        .get(app.url("/api/v1/conversations"))
        .bearer_auth("td_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let agent = app.user("ag@a.vn", Role::Agent, "Shop A").await;
    assert_eq!(
        agent
            .post(
                "/api/v1/members",
                json!({"email":"x@a.vn","name":"x","password":"12345678","role":"agent"})
            )
            .await
            .status(),
        403
    );
    let members: Value = owner.json("/api/v1/members").await;
    assert_eq!(members.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn first_run_setup_creates_the_owner_once() {
    let app = spawn_app().await;
    let status: Value = app
        .http
        .get(app.url("/api/v1/setup/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["needed"], true);
    let token = app.state.setup_token.lock().unwrap().clone().unwrap();
    let bad = app.http.post(app.url("/api/v1/setup")).json(&json!({"token":"guess","name":"X","email":"x@x.vn","password":"12345678","workspace_name":"S"})).send().await.unwrap();
    assert_eq!(bad.status(), 403);
    let ok = app.http.post(app.url("/api/v1/setup")).json(&json!({"token":token,"name":"Chủ shop","email":"boss@shop.vn","password":"12345678","workspace_name":"Shop Hoa"})).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let me: Value = ok.json().await.unwrap();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["workspace"]["name"], "Shop Hoa");
    let again = app.http.post(app.url("/api/v1/setup")).json(&json!({"token":token,"name":"X","email":"y@x.vn","password":"12345678","workspace_name":"S"})).send().await.unwrap();
    assert_eq!(again.status(), 403);
}
