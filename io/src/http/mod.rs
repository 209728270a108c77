//! The HTTP side of the single port (http.md §1): the WebSocket upgrade on any path, then a
//! route table for everything else.
//!
//! # Adding a route
//! One [`Route`] entry in [`Router::builtin`] plus its handler (an `async fn(HttpRequest) ->
//! Result<Response<Body>, HttpError>` in its own module under `http/`). The entry says the
//! path (`matchit` syntax: `/sessions/{key}/kill`), the methods, whether the gateway's auth is
//! required ([`RouteAuth`]), the request body limit and read timeout, and how errors look
//! ([`ErrorStyle`], the OpenAI `{"error":{"message","type"}}` envelope by default). The router
//! does the rest, in this order:
//! 1. unknown path → `404` text `Not Found`; known path, other method → `405` text with `Allow`
//!    (both before auth, as the reference);
//! 2. [`RouteAuth::Gateway`]: `Authorization: Bearer` against `gateway.auth` on the hub's
//!    failed-attempt limiter (the one `connect` uses) → `401`/`429` + `Retry-After`;
//! 3. the handler, with the body as a stream ([`RequestBody`]): too large → `413` (counted as
//!    it arrives, or refused from `Content-Length` before reading), too slow → `408`;
//! 4. the baseline headers of §1.1 on every answer.
//!
//! A path no route takes goes to the Control UI when it is on ([`ui`]), else `404`.
//!
//! Responses are streaming bodies ([`Body`]); [`sse`] makes a `text/event-stream` one.

mod auth;
mod body;
mod canvas;
mod error;
mod files;
mod hooks;
mod openai;
mod probes;
pub(crate) mod sse;
mod tools_invoke;
mod upgrade;
pub(crate) mod ui;

pub(crate) use ui::normalize_base as normalize_base_path;

#[cfg(test)]
mod canvas_tests;
#[cfg(test)]
mod raw_client;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ui_tests;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use openclaw_core::PeerInfo;

pub(crate) use body::RequestBody;
pub(crate) use error::{ErrorStyle, HttpError};
pub(crate) use hooks::HookState;

use crate::admission::peer_info;
use crate::server::Shared;

/// Every response body: a stream of bytes (a whole one for most answers, SSE for streams).
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
pub(crate) const JSON: &str = "application/json; charset=utf-8";

/// Request bodies larger than this are refused unless the route says otherwise.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// How long a client may take to send a request body unless the route says otherwise.
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What a handler gets: the request head, its body as a stream, the path parameters, who is
/// asking, and the gateway's shared state.
pub(crate) struct HttpRequest {
    pub parts: Parts,
    pub body: RequestBody,
    /// Path parameters by name (`{key}` in the route's path).
    pub params: BTreeMap<String, String>,
    /// Locality, forwarding headers and scope cap, as for a socket.
    #[allow(dead_code)] // read by the scope-checked routes (issue #13)
    pub peer: PeerInfo,
    pub shared: Arc<Shared>,
}

/// What a handler returns; the error is rendered in the route's [`ErrorStyle`].
pub(crate) type HandlerResult = Result<Response<Body>, HttpError>;
type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;
type Handler = Arc<dyn Fn(HttpRequest) -> HandlerFuture + Send + Sync>;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RouteAuth {
    /// Anyone (probes).
    Public,
    /// The gateway's shared secret as `Authorization: Bearer` (http.md §1.4).
    Gateway,
    /// The bearer secret, or a canvas capability held by a connected socket (the request came
    /// by its `/__openclaw__/cap/<capability>/…` URL or with `?oc_cap=`; http.md §7.4).
    GatewayOrCanvasCap,
}

/// One entry of the route table.
pub(crate) struct Route {
    path: String,
    methods: Vec<Method>,
    handler: Handler,
    auth: RouteAuth,
    body_limit: usize,
    read_timeout: Duration,
    errors: ErrorStyle,
    /// Whether the live settings serve it (`gateway.http.endpoints.*`, read per request so a
    /// reload turns it on or off); a route off is as absent.
    enabled: fn(&crate::settings::Settings) -> bool,
}

impl Route {
    /// A public route with the default body limit, read timeout and error style.
    pub(crate) fn new<F, Fut>(path: &str, methods: &[Method], handler: F) -> Self
    where
        F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        Self {
            path: path.to_owned(),
            methods: methods.to_vec(),
            handler: Arc::new(move |req| Box::pin(handler(req))),
            auth: RouteAuth::Public,
            body_limit: DEFAULT_BODY_LIMIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            errors: error::openai,
            enabled: |_| true,
        }
    }

    /// Served only while `enabled` holds for the live settings.
    pub(crate) fn when(mut self, enabled: fn(&crate::settings::Settings) -> bool) -> Self {
        self.enabled = enabled;
        self
    }

    pub(crate) fn auth(mut self, auth: RouteAuth) -> Self {
        self.auth = auth;
        self
    }

    pub(crate) fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    #[allow(dead_code)] // the API routes of issue #13 set it
    pub(crate) fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    #[allow(dead_code)] // hooks and /tools/invoke have their own shapes
    pub(crate) fn errors(mut self, style: ErrorStyle) -> Self {
        self.errors = style;
        self
    }
}

/// The route table: paths matched exactly (`matchit`), then the method among the path's routes.
#[derive(Default)]
pub(crate) struct Router {
    paths: matchit::Router<usize>,
    by_path: BTreeMap<String, usize>,
    entries: Vec<Vec<Route>>,
    /// The Control UI, answering GET/HEAD that no route took (http.md §1.3 stage 11).
    ui: Option<ui::ControlUi>,
}

impl Router {
    /// The gateway's own routes, with the HTTP APIs that `gateway.http.endpoints.*` turns on
    /// and off live.
    pub(crate) fn builtin() -> Self {
        probes::routes()
            .into_iter()
            .chain(tools_invoke::routes())
            .chain(openai::routes())
            .fold(Self::default(), Self::route)
    }

    /// Adds the canvas host's routes for documents under `root` (http.md §7).
    pub(crate) fn with_canvas(self, root: std::path::PathBuf) -> Self {
        canvas::routes(root).into_iter().fold(self, Self::route)
    }

    /// Serves the Control UI for requests no route takes (`gateway.controlUi`).
    pub(crate) fn with_control_ui(mut self, settings: &crate::settings::ControlUiSettings) -> Self {
        if settings.enabled {
            let source = settings.root.clone().map_or(ui::Source::Embedded, ui::Source::Dir);
            self.ui = Some(ui::ControlUi { base: settings.base_path.clone(), source });
        }
        self
    }

    /// Adds `route`. The table is built once at start, so a path that conflicts with another
    /// one, or a method served twice on one path, is a programming error and panics.
    pub(crate) fn route(mut self, route: Route) -> Self {
        let index = match self.by_path.get(&route.path) {
            Some(&i) => i,
            None => {
                let i = self.entries.len();
                if let Err(e) = self.paths.insert(route.path.clone(), i) {
                    panic!("route {}: {e}", route.path);
                }
                self.by_path.insert(route.path.clone(), i);
                self.entries.push(Vec::new());
                i
            }
        };
        let taken = self.entries[index].iter().flat_map(|r| &r.methods).any(|m| route.methods.contains(m));
        assert!(!taken, "route {}: a method is served twice", route.path);
        self.entries[index].push(route);
        self
    }
}

/// Answers one HTTP request; an accepted upgrade spawns the session task.
pub(crate) async fn handle(mut req: Request<Incoming>, remote: SocketAddr, shared: Arc<Shared>) -> Response<Body> {
    // A capability-scoped URL of the canvas host: the real path is routed, the capability kept.
    let cap = match unscope(&mut req, &shared) {
        Ok(cap) => cap,
        Err(()) => return error::openai(&HttpError::Unauthorized),
    };
    if fastwebsockets::upgrade::is_upgrade_request(&req) {
        if req.uri().path() == canvas::RELOAD_PATH && shared.canvas.is_some() {
            return canvas::upgrade(&mut req, remote, &shared, cap.as_deref()).await;
        }
        return upgrade::upgrade(&mut req, remote, &shared);
    }
    let mut res = dispatch(req, remote, shared, cap).await;
    baseline(&mut res);
    res
}

/// With the canvas host on, `/__openclaw__/cap/<capability>/<path>` becomes `<path>` (query
/// kept) and yields the capability, as does `?oc_cap=`; a malformed scoped path is `Err`.
fn unscope(req: &mut Request<Incoming>, shared: &Shared) -> Result<Option<String>, ()> {
    if shared.canvas.is_none() {
        return Ok(None);
    }
    let query = req.uri().query().map(str::to_owned);
    let Some(scoped) = crate::canvas_caps::split_scoped(req.uri().path()) else {
        return Ok(crate::canvas_caps::query_cap(query.as_deref()));
    };
    let (cap, real) = scoped?;
    let path_and_query = match &query {
        Some(q) => format!("{real}?{q}"),
        None => real,
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().map_err(|_| ())?);
    *req.uri_mut() = hyper::Uri::from_parts(parts).map_err(|_| ())?;
    Ok(Some(cap))
}

/// Whether `cap` is a live canvas capability.
fn canvas_cap_ok(shared: &Shared, cap: Option<&str>) -> bool {
    match (&shared.canvas, cap) {
        (Some(host), Some(cap)) => host.caps.authorize(cap, crate::clock::now()),
        _ => false,
    }
}

async fn dispatch(req: Request<Incoming>, remote: SocketAddr, shared: Arc<Shared>, cap: Option<String>) -> Response<Body> {
    // Stage 1 (http.md §1.3): the hooks, before any route, when enabled.
    let hooks = shared.settings.load().hooks.clone();
    if let Some(policy) = hooks {
        if let Some(sub) = policy.sub_path(req.uri().path()).map(str::to_owned) {
            return hooks::handle(req, remote, shared, policy, sub).await;
        }
    }
    let (route, params) = {
        let settings = shared.settings.load();
        let found = shared.router.paths.at(req.uri().path()).ok().and_then(|found| {
            let routes: Vec<&Route> =
                shared.router.entries[*found.value].iter().filter(|r| (r.enabled)(&settings)).collect();
            (!routes.is_empty()).then_some((found, routes))
        });
        let Some((found, routes)) = found else {
            return match &shared.router.ui {
                Some(control_ui) => ui::handle(control_ui, req, remote, &shared).await,
                None => respond(StatusCode::NOT_FOUND, TEXT, Bytes::from_static(b"Not Found")),
            };
        };
        let Some(route) = routes.iter().find(|r| r.methods.contains(req.method())) else {
            return method_not_allowed(&routes);
        };
        let params: BTreeMap<String, String> =
            found.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let route = (route.handler.clone(), route.auth, route.body_limit, route.read_timeout, route.errors);
        (route, params)
    };
    let (handler, auth, body_limit, read_timeout, errors) = route;
    let (parts, incoming) = req.into_parts();
    let peer = peer_info(remote, &parts.headers);
    let by_cap = auth == RouteAuth::GatewayOrCanvasCap && canvas_cap_ok(&shared, cap.as_deref());
    if matches!(auth, RouteAuth::Gateway | RouteAuth::GatewayOrCanvasCap) && !by_cap {
        if let Err(e) = auth::check(&shared, &peer, &parts.headers).await {
            return errors(&e);
        }
    }
    let body = RequestBody::new(incoming, &parts.headers, body_limit, read_timeout);
    let req = HttpRequest { parts, body, params, peer, shared };
    handler(req).await.unwrap_or_else(|e| errors(&e))
}

fn method_not_allowed(routes: &[&Route]) -> Response<Body> {
    let allow: Vec<&str> = routes.iter().flat_map(|r| &r.methods).map(Method::as_str).collect();
    let mut res = respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, Bytes::from_static(b"Method Not Allowed"));
    if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
        res.headers_mut().insert(ALLOW, v);
    }
    res
}

/// A whole body.
pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed_unsync()
}

/// No body.
pub(crate) fn empty() -> Body {
    Empty::new().boxed_unsync()
}

/// A response with a whole body and the baseline headers every gateway response carries.
pub(crate) fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut res = Response::new(full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    baseline(&mut res);
    res
}

/// The headers of http.md §1.1, on every response (kept where a handler set them already).
fn baseline(res: &mut Response<Body>) {
    let h = res.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("permissions-policy", "camera=(), geolocation=()"),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
}
