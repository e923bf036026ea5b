//! The OAuth 2 connect flow every non-Meta platform shares (`/api/v1/channels/{platform}/oauth/…`)
//! and the list of connectable platforms the settings screen builds its buttons from: what
//! happens before any platform is called. The full flows against each platform's sandbox are in
//! the platform's own tests.

use serde_json::Value;
use tongdai::domain::role::Role;

use crate::helpers::*;

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_connectable_list_offers_only_configured_platforms_to_channel_managers() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let list: Value = owner
        .get("/api/v1/channels/connectable")
        .await
        .json()
        .await
        .unwrap();
    let list = list.as_array().expect("a list");
    let fb = list
        .iter()
        .find(|c| c["platform"] == "facebook")
        .expect("the Meta app is configured in tests");
    assert_eq!(fb["connect_url"], "/api/v1/channels/facebook/connect");
    for c in list.iter().filter(|c| c["platform"] != "facebook") {
        assert_eq!(
            c["connect_url"],
            format!(
                "/api/v1/channels/{}/oauth/connect",
                c["platform"].as_str().unwrap()
            )
        );
    }
    assert!(
        !list.iter().any(|c| c["platform"] == "tiki"),
        "no Tiki app is configured: no button"
    );

    let agent = app.user("a@a.vn", Role::Agent, "Shop A").await;
    assert_eq!(
        agent.get("/api/v1/channels/connectable").await.status(),
        403
    );

    let bare = spawn_with(Options {
        without_facebook_app: true,
        ..Default::default()
    })
    .await;
    let owner = bare.user("o@b.vn", Role::Owner, "Shop B").await;
    let list: Value = owner
        .get("/api/v1/channels/connectable")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["platform"] == "facebook"),
        "{list}"
    );
}

#[tokio::test]
async fn starting_or_finishing_an_oauth_connect_refuses_what_cannot_work() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    // No Tiki app configured (and Tiki has no OAuth connector yet): said plainly.
    let res = owner
        .get("/api/v1/channels/tiki/oauth/connect?format=json")
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_configured");
    // Not a platform at all.
    let res = owner
        .get("/api/v1/channels/myspace/oauth/connect?format=json")
        .await;
    assert_eq!(res.status(), 404);
    // Only channel managers start one.
    let agent = app.user("a@a.vn", Role::Agent, "Shop A").await;
    let res = agent
        .get("/api/v1/channels/tiki/oauth/connect?format=json")
        .await;
    assert_eq!(res.status(), 403);

    // A callback nobody started: JSON says why; a browser lands back on the settings screen
    // with the reason.
    let res = app
        .http
        .get(app.url("/api/v1/channels/zalo/oauth/callback?code=c&state=forged&format=json"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert!(status == 400, "{status} {body}");
    assert!(
        body["code"] == "invalid_state" || body["code"] == "not_configured",
        "{body}"
    );
    let res = no_redirect()
        .get(app.url("/api/v1/channels/tiki/oauth/callback?code=c&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers()["location"],
        "/settings/channels?connect_error=not_configured"
    );
}
