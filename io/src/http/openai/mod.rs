//! The OpenAI-compatible APIs on the gateway port (http.md §2): `POST /v1/chat/completions`
//! when `gateway.http.endpoints.chatCompletions.enabled`, and `GET /v1/models[/{id}]` when it
//! or `…responses.enabled` is on. Disabled endpoints are as absent from the route table (a bare
//! 404, as the reference); the switches are read from the live settings on each request, so a
//! config reload turns them on and off. Every route takes the gateway's auth; errors are the
//! OpenAI envelope.

mod chat;
mod models;
mod request;
mod responses;
mod routing;
mod run;
mod tools;

use hyper::Method;
pub(super) use routing::agents;
pub(super) use run::operator_scopes;

use super::{Route, RouteAuth};

/// Chat completions bodies may carry images: 20 MiB (`maxBodyBytes`).
const CHAT_BODY_LIMIT: usize = 20 * 1024 * 1024;

/// Responses bodies may carry base64 files and images: 20 MiB (the reference's
/// `max(20 MiB, files.maxBytes×2, images.maxBytes×2)` with the default limits).
const RESPONSES_BODY_LIMIT: usize = 20 * 1024 * 1024;

/// The routes, each served while its switch is on.
pub(crate) fn routes() -> Vec<Route> {
    let models = |s: &crate::settings::Settings| s.gateway.http.models();
    let state = responses::Responses::default();
    vec![
        Route::new("/v1/models", &[Method::GET], models::list).auth(RouteAuth::Gateway).when(models),
        Route::new("/v1/models/{id}", &[Method::GET], models::get).auth(RouteAuth::Gateway).when(models),
        Route::new("/v1/chat/completions", &[Method::POST], chat::handle)
            .auth(RouteAuth::Gateway)
            .body_limit(CHAT_BODY_LIMIT)
            .when(|s| s.gateway.http.chat_completions),
        Route::new("/v1/responses", &[Method::POST], move |req| state.clone().handle(req))
            .auth(RouteAuth::Gateway)
            .body_limit(RESPONSES_BODY_LIMIT)
            .when(|s| s.gateway.http.responses),
    ]
}
