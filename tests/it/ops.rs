//! Health, readiness, metrics, the OpenAPI document and the embedded web app.

use serde_json::Value;
use tongdai::domain::role::Role;

use crate::helpers::*;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_with(Options {
        workers: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let ready = eventually(|| async {
        let r = app.http.get(app.url("/readyz")).send().await.unwrap();
        (r.status() == 200).then_some(r)
    })
    .await;
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], true);
    app.customer_says("105", "u", "m", "hi").await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("tongdai_webhooks_total{platform=\"facebook\",outcome=\"accepted\"} 1"),
        "{text}"
    );
    assert!(text.contains("tongdai_ingest_batch_size_count"));
    assert!(text.contains("tongdai_job_queue_depth"));
    assert!(text.contains("tongdai_websocket_clients 0"));
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/conversations",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/contacts/{id}/merge",
        "/api/v1/inbound-events/{id}/replay",
        "/webhooks/{platform}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    let unknown: Value = app
        .http
        .get(app.url("/api/v1/nothing"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unknown["code"], "not_found");
}

#[tokio::test]
async fn the_web_app_is_served() {
    let app = spawn_app().await;
    app.user("o@a.vn", Role::Owner, "Shop A").await;
    for (path, ct) in [
        ("/", "text/html"),
        ("/inbox/abc", "text/html"),
        ("/leads", "text/html"),
        ("/orders/new", "text/html"),
        ("/fulfillment", "text/html"),
        ("/settings/labels", "text/html"),
        ("/reports", "text/html"),
        ("/app.js", "text/javascript"),
        ("/views/inbox.js", "text/javascript"),
        ("/app.css", "text/css"),
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ct),
            "{path}"
        );
        // Scripts and styles from this origin only: no inline script can run, whatever a
        // customer managed to get into the page.
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    // Every file in web/, in subdirectories too, is embedded.
    fn files(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.push(rel.replace('\\', "/"));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    assert!(all.iter().any(|f| f.starts_with("views/")));
    for name in all {
        let r = app
            .http
            .get(app.url(&format!("/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "web/{name} is not served");
    }
    // Unknown paths outside the client's routes stay 404, whatever the method.
    for path in ["/nothing.js", "/views/nothing.js", "/api/v1/nothing/else"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = app
        .http
        .post(app.url("/webhooks/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
