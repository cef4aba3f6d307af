//! The HTTP listener both binaries serve on: poem's TCP acceptor with `TCP_NODELAY` on every
//! accepted connection, so a response written in more than one piece is never held back
//! waiting for the client's delayed ACK (Nagle).

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};

pub struct NoDelayAcceptor(TcpAcceptor);

impl NoDelayAcceptor {
    pub fn from_tokio(listener: tokio::net::TcpListener) -> std::io::Result<Self> {
        TcpAcceptor::from_tokio(listener).map(NoDelayAcceptor)
    }
}

impl Acceptor for NoDelayAcceptor {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let accepted = self.0.accept().await?;
        // Best effort: a socket that refuses the option still works, only slower.
        let _ = accepted.0.set_nodelay(true);
        Ok(accepted)
    }
}

/// How long a client may take to send a request's headers; a slower one (slowloris) is
/// dropped. Counted by hyper from the first byte of each request.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a request body may stall between two chunks before the request fails (408-like
/// 400 from the handler) and the connection is closed.
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a whole request body may take to arrive.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A request body that fails with `TimedOut` when it stalls for [`BODY_IDLE_TIMEOUT`] or has not
/// all arrived within [`BODY_READ_TIMEOUT`], so a half-sent body never holds a handler.
fn deadline_body(body: poem::Body) -> poem::Body {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + BODY_READ_TIMEOUT;
    let stream = body.into_bytes_stream();
    let timed = futures::stream::unfold(Some(Box::pin(stream)), move |state| async move {
        let mut stream = state?;
        let idle = (tokio::time::Instant::now() + BODY_IDLE_TIMEOUT).min(deadline);
        match tokio::time::timeout_at(idle, stream.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )),
                None,
            )),
        }
    });
    poem::Body::from_bytes_stream(timed)
}

/// Serves `ep` on `listener` (HTTP/1.1 and HTTP/2, `TCP_NODELAY`) until `shutdown` resolves,
/// then lets requests in flight finish for up to `grace`.
///
/// Unlike `poem::Server`, every connection has a header-read timeout
/// ([`HEADER_READ_TIMEOUT`]) and every request body a stall and a total timeout
/// ([`BODY_IDLE_TIMEOUT`], [`BODY_READ_TIMEOUT`]): slow or half-sent requests are dropped, so
/// hundreds of them cannot hold connections and handlers open, nor delay anyone else.
pub async fn serve<E>(
    listener: tokio::net::TcpListener,
    ep: E,
    shutdown: impl std::future::Future<Output = ()>,
    grace: std::time::Duration,
) -> std::io::Result<()>
where
    E: poem::Endpoint + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use poem::web::{LocalAddr, RemoteAddr};
    use poem::{Endpoint as _, EndpointExt};

    let ep = std::sync::Arc::new(ep.map_to_response());
    let local = LocalAddr(poem::Addr::SocketAddr(listener.local_addr()?));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let ep = ep.clone();
        let local = local.clone();
        let remote = RemoteAddr(poem::Addr::SocketAddr(peer));
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let ep = ep.clone();
                let local = local.clone();
                let remote = remote.clone();
                async move {
                    let mut req = poem::Request::from((req, local, remote, Scheme::HTTP));
                    let body = req.take_body();
                    // A request without a body keeps its exact (empty) size.
                    req.set_body(if body.is_empty() { body } else { deadline_body(body) });
                    let resp = ep.get_response(req).await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::from(resp))
                }
            });
        let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            tokio::pin!(conn);
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                _ = async move { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                    // Finish the request in flight, take no new one.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(?grace, "requests still in flight after the shutdown grace period");
        connections.abort_all();
    }
    Ok(())
}
