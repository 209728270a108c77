//! The channel methods: answered by the channel runtime in the driver (it owns the bot
//! connections and the state database), so the hub hands them over as [`HostRequest`]s.

use super::handlers::to_host;
use super::{Hub, Req};
use crate::wire::channels::{ChannelsAccountOp, ChannelsAccountParams, ChannelsStatusParams, SendParams, WebLoginStartParams, WebLoginWaitParams};
use crate::wire::host::HostRequest;

pub(crate) fn status(hub: &mut Hub, rq: Req, params: ChannelsStatusParams) {
    to_host(hub, rq, HostRequest::ChannelsStatus(params));
}

pub(crate) fn send(hub: &mut Hub, rq: Req, params: Box<SendParams>) {
    to_host(hub, rq, HostRequest::Send(params));
}

pub(crate) fn start(hub: &mut Hub, rq: Req, params: ChannelsAccountParams) {
    to_host(hub, rq, HostRequest::ChannelsAccount(ChannelsAccountOp::Start, params));
}

pub(crate) fn stop(hub: &mut Hub, rq: Req, params: ChannelsAccountParams) {
    to_host(hub, rq, HostRequest::ChannelsAccount(ChannelsAccountOp::Stop, params));
}

pub(crate) fn logout(hub: &mut Hub, rq: Req, params: ChannelsAccountParams) {
    to_host(hub, rq, HostRequest::ChannelsAccount(ChannelsAccountOp::Logout, params));
}

pub(crate) fn web_login_start(hub: &mut Hub, rq: Req, params: WebLoginStartParams) {
    to_host(hub, rq, HostRequest::WebLoginStart(params));
}

pub(crate) fn web_login_wait(hub: &mut Hub, rq: Req, params: Box<WebLoginWaitParams>) {
    to_host(hub, rq, HostRequest::WebLoginWait(params));
}
