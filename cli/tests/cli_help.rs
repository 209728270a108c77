//! `--help` of every command, snapshotted: the help text is user-facing API.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::process::Command;

fn help(args: &[&str]) -> String {
    let home = common::home();
    let mut cmd: Command = common::openclaw(home.path());
    // Fixed width: clap wraps to $COLUMNS.
    cmd.env("COLUMNS", "100").args(args).arg("--help");
    let (status, stdout, stderr) = common::run(cmd);
    assert!(status.success(), "{args:?} --help failed: {stderr}");
    stdout
}

#[test]
fn top_level() {
    insta::assert_snapshot!("openclaw", help(&[]));
}

#[test]
fn gateway() {
    insta::assert_snapshot!("gateway", help(&["gateway"]));
}

#[test]
fn gateway_run() {
    insta::assert_snapshot!("gateway_run", help(&["gateway", "run"]));
}

#[test]
fn gateway_call() {
    insta::assert_snapshot!("gateway_call", help(&["gateway", "call"]));
}

#[test]
fn gateway_health() {
    insta::assert_snapshot!("gateway_health", help(&["gateway", "health"]));
}

#[test]
fn gateway_status() {
    insta::assert_snapshot!("gateway_status", help(&["gateway", "status"]));
}

#[test]
fn health() {
    insta::assert_snapshot!("health", help(&["health"]));
}

#[test]
fn agent() {
    insta::assert_snapshot!("agent", help(&["agent"]));
}

#[test]
fn sessions_list() {
    insta::assert_snapshot!("sessions_list", help(&["sessions", "list"]));
}

#[test]
fn setup() {
    insta::assert_snapshot!("setup", help(&["setup"]));
}
