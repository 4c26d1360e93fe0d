//! The accept loop: HTTP/1.1 connections served by hyper with a header-read
//! timeout (`axum::serve` has none, so a client that trickles its headers
//! would hold a connection forever), each request answered by the router of
//! the current generation (a reload swaps it), and a graceful shutdown that
//! lets in-flight requests finish.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Accepts connections on `listener` until `shutdown` resolves, then stops
/// accepting, asks every open connection to close after its current
/// request, and returns once they all have.
pub(crate) async fn serve(
    listener: TcpListener,
    app: watch::Receiver<Router>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    // Each connection holds a receiver; `closed()` resolves when all are gone.
    let (open_tx, open_rx) = watch::channel(());
    let (closing_tx, closing_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not spin
                    // or stop serving the connections already open.
                    if !is_connection_error(&error) {
                        tracing::error!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers (a 201, an SSE event) leave at once.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let open = open_rx.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let router = app.borrow().clone();
                async move {
                    let response = router.oneshot(request).await;
                    Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
                }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let mut asked = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(%error, "a connection ended with an error");
                        }
                        break;
                    }
                    _ = closing.wait_for(|c| *c), if !asked => {
                        asked = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    closing_tx.send_replace(true);
    open_tx.closed().await;
}

/// Errors of one connection that never got going; the listener is fine.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
