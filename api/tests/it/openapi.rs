use crate::helpers::TestApp;

/// The API's shape is a reviewed diff: `cargo insta review` after a deliberate change.
#[tokio::test]
async fn the_openapi_document_is_stable() {
    let app = TestApp::new().await;
    let doc = app
        .call(
            axum::http::Method::GET,
            "/v1/openapi.json",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(doc.status, axum::http::StatusCode::OK);
    insta::assert_json_snapshot!("openapi", doc.body);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::new().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = app
            .call(axum::http::Method::GET, path, None, None, None)
            .await;
        assert_eq!(r.status, axum::http::StatusCode::OK, "{path}");
    }
    let metrics = app
        .call(axum::http::Method::GET, "/metrics", None, None, None)
        .await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap_or("")
            .contains("coinsence_http_requests_total"),
        "{:?}",
        metrics.body
    );
}
