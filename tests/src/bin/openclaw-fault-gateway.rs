//! A gateway in its own process for fault tests that measure its memory (`/proc/<pid>/status`):
//! token auth (`openclaw_tests::e2e::TOKEN`) on an ephemeral loopback port, production limits
//! but for `--handshake-timeout-ms` and `--max-preauth-per-ip`. Prints `listening <port>` once
//! `connect` is admitted and shuts down gracefully when its stdin closes (so it never outlives
//! the test that spawned it).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use openclaw_core::auth::{AuthMode, Secret};
use openclaw_io::{Gateway, ServerConfig};
use openclaw_tests::e2e::TOKEN;

#[derive(Parser, Debug)]
struct Args {
    /// Time a socket has to complete `connect` (production: 15 000).
    #[arg(long, default_value_t = 15_000)]
    handshake_timeout_ms: u64,
    /// Sockets per IP that have not completed `connect` (production: 32).
    #[arg(long, default_value_t = 32)]
    max_preauth_per_ip: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let bind: SocketAddr = "127.0.0.1:0".parse()?;
        let mut config = ServerConfig::new(bind, AuthMode::Token(Some(Secret::new(TOKEN))));
        config.max_preauth_per_ip = args.max_preauth_per_ip;
        config.limits.handshake_timeout = Duration::from_millis(args.handshake_timeout_ms);
        let gw = Gateway::start(config).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening {}", gw.local_addr().port())?;
        out.flush()?;
        drop(out);
        // Until the test closes our stdin (or dies).
        let _ = tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await;
        gw.shutdown("test over", None);
        gw.wait().await?;
        Ok(())
    })
}
