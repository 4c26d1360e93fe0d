//! CORS: off by default (no `Access-Control-*` header, ever); with allowed
//! origins, a preflight from one of them gets the headers and every other
//! origin gets none.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::Harness;
use server::ServerOptions;

const ALLOWED: &str = "https://app.example.com";

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/workflows/customer-support/runs")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .body(Body::empty())
        .expect("a request")
}

fn cors_headers(answer: &common::Answer) -> Vec<String> {
    answer
        .headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_gets_the_headers_and_no_other_does() {
    let h = Harness::with_options(ServerOptions {
        cors_origins: vec![ALLOWED.to_owned(), "http://localhost:5173".to_owned()],
        ..ServerOptions::default()
    })
    .await;

    let answer = h.send(preflight(ALLOWED)).await;
    assert!(answer.status.is_success(), "{:?}", answer);
    let get = |name: header::HeaderName| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    assert_eq!(get(header::ACCESS_CONTROL_ALLOW_ORIGIN), ALLOWED);
    assert!(get(header::ACCESS_CONTROL_ALLOW_METHODS).contains("post"));
    assert!(get(header::ACCESS_CONTROL_ALLOW_HEADERS).contains("authorization"));
    assert!(get(header::ACCESS_CONTROL_ALLOW_HEADERS).contains("content-type"));

    // An ordinary call from the allowed origin carries the header too.
    let mut request = Request::get("/healthz")
        .header(header::ORIGIN, ALLOWED)
        .body(Body::empty())
        .expect("a request");
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {}", h.viewer).parse().expect("a header"),
    );
    let answer = h.send(request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(&ALLOWED.parse().expect("a header value"))
    );
    // A script may read the headers that carry addresses and cursors.
    let exposed = answer
        .headers
        .get(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        exposed.contains("next-cursor") && exposed.contains("location"),
        "exposed: {exposed:?}"
    );

    let other = h.send(preflight("https://evil.example.com")).await;
    assert_eq!(
        other.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        None,
        "another origin is allowed: {:?}",
        other.headers
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default() {
    let h = Harness::new().await;
    let answer = h.send(preflight(ALLOWED)).await;
    assert_eq!(cors_headers(&answer), Vec::<String>::new(), "{answer:?}");
    let answer = h
        .send(
            Request::get("/healthz")
                .header(header::ORIGIN, ALLOWED)
                .body(Body::empty())
                .expect("a request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(cors_headers(&answer), Vec::<String>::new());
    h.stop().await;
}

#[test]
fn origins_are_checked() {
    for good in [ALLOWED, "http://localhost:5173", "*"] {
        assert_eq!(server::check_cors_origin(good), Ok(()), "{good}");
    }
    for bad in [
        "app.example.com",
        "https://app.example.com/",
        "https://",
        "ftp://x",
        "",
    ] {
        assert!(server::check_cors_origin(bad).is_err(), "{bad:?} accepted");
    }
}
