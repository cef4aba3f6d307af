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
