//! The HTTPS server: actix-server accepting, OpenSSL's handshake (actix-tls), the request
//! stream guard (`http::wire`), then actix-http's HTTP/1 dispatcher running the
//! application. Assembled here rather than by `actix_web::HttpServer` only to put the guard
//! between TLS and the dispatcher; every `[limits]` setting reaches the same place it did.

use std::net::TcpListener;
use std::time::Duration;

use actix_http::HttpService;
use actix_service::{map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_tls::accept::openssl::{Acceptor, TlsStream};
use actix_tls::accept::TlsError;
use actix_web::dev::{AppConfig, Server};
use openssl::ssl::{AlpnError, SslAcceptor, SslAcceptorBuilder};
use tokio::net::TcpStream;

use crate::config::LimitSettings;
use crate::http::{self, wire::Guarded, AppState};

/// Finishes the TLS acceptor: HTTP/1.1 is the one protocol offered by ALPN (a client
/// asking for h2 alone gets no ALPN answer, as before).
pub fn acceptor(mut builder: SslAcceptorBuilder) -> std::io::Result<SslAcceptor> {
    builder.set_alpn_select_callback(|_, protocols| {
        if protocols.windows(9).any(|w| w == b"\x08http/1.1") {
            Ok(b"http/1.1")
        } else {
            Err(AlpnError::NOACK)
        }
    });
    builder.set_alpn_protos(b"\x08http/1.1")?;
    Ok(builder.build())
}

/// Serves the application on `listener` until stopped.
pub fn serve(
    listener: TcpListener,
    tls: SslAcceptor,
    limits: &LimitSettings,
    workers: usize,
    state: actix_web::web::Data<AppState>,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let host = addr.to_string();
    // Per worker, like `HttpServer::max_connection_rate` (a setting of actix-tls's).
    actix_tls::accept::max_concurrent_tls_connect(limits.max_connection_rate);
    let handshake = Duration::from_millis(limits.tls_handshake_timeout_ms);
    let request_timeout = Duration::from_millis(limits.client_request_timeout_ms);
    let disconnect_timeout = Duration::from_millis(limits.client_disconnect_timeout_ms);
    let keep_alive = match limits.keep_alive_seconds {
        0 => actix_web::http::KeepAlive::Disabled,
        s => actix_web::http::KeepAlive::Timeout(Duration::from_secs(s)),
    };
    let max_head = limits.max_header_bytes;
    Ok(Server::build()
        .workers(workers)
        .backlog(limits.backlog)
        .max_concurrent_connections(limits.max_connections)
        .listen("certbroker-https", listener, move || {
            let app = actix_web::App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(http::stamp::stamp))
                .configure(http::routes::configure)
                .into_factory()
                .map_err(|e| e.error_response());
            let host = host.clone();
            let http = HttpService::build()
                .keep_alive(keep_alive)
                .client_request_timeout(request_timeout)
                .client_disconnect_timeout(disconnect_timeout)
                .secure()
                .local_addr(addr)
                .h1(map_config(app, move |_| {
                    AppConfig::__priv_test_new(true, host.clone(), addr)
                }));
            let mut accept = Acceptor::new(tls.clone());
            accept.set_handshake_timeout(handshake);
            accept
                .map_init_err(|()| ())
                .map_err(TlsError::into_service_error)
                .map(move |io: TlsStream<TcpStream>| {
                    let peer = io.get_ref().peer_addr().ok();
                    (Guarded::new(io, max_head), peer)
                })
                .and_then(http.map_err(TlsError::Service))
        })?
        .run())
}
