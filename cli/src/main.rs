//! `openclaw`: run the OpenClaw Gateway, or talk to a running one.
//!
//! `main` parses the command line, sets up logging, builds the tokio runtime and maps each
//! command's typed result onto output and an exit code: 0 success, 1 failure, 2 bad command
//! line (clap). Printing is this binary's job, hence the deliberate `print_stdout` allowance.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod agent_cmd;
mod args;
mod channels_cmd;
mod client_cmd;
mod completion;
mod config;
mod config_cmd;
mod dashboard_cmd;
mod dev;
mod devices_cmd;
mod doctor;
mod gateway_status;
mod log_setup;
mod logs_cmd;
mod nodes_cmd;
mod output;
mod profile;
mod reload;
mod run;
mod service;
mod setup_cmd;
mod status_cmd;
mod supervise;
mod token;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, ClientArgs, Command, GatewayAction};
use crate::output::{CallFailure, Report};
use crate::run::Stopped;

fn main() -> ExitCode {
    // Root flags --dev/--profile set env defaults; this must run while the process is still
    // single-threaded (before the tokio runtime), see `profile::apply_to_process`.
    let argv = match profile::apply_to_process(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(argv);
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Threads for blocking work (SQLite calls, file reads). The session store is one connection
/// behind a lock, so more threads only wait on it; each thread that allocates gets its own
/// malloc arena, whose freed memory glibc keeps (the 6000-turn soak grew by ~6 MiB more with
/// tokio's default of 512, which reached ~12 threads here).
const MAX_BLOCKING_THREADS: usize = 4;

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("cannot start the async runtime")?;
    if let Some(blocked) = config_cmd::guard(&cli.command) {
        return Ok(print_outcome(&blocked));
    }
    match cli.command {
        Command::Config(cmd) => Ok(print_outcome(&config_cmd::run(&cmd))),
        Command::Gateway(gateway) => match gateway.action {
            None => run_gateway(&runtime, gateway.run),
            Some(GatewayAction::Run(args)) => run_gateway(&runtime, args),
            Some(GatewayAction::Call(args)) => {
                let json = args.client.json;
                client(&runtime, json, "Gateway call", client_cmd::call(&args))
            }
            Some(GatewayAction::Health(args)) => client_with(
                &runtime,
                &args,
                "Gateway health",
                client_cmd::gateway_health(&args),
            ),
            Some(GatewayAction::Status(args)) => {
                init_logging();
                Ok(print_rendered(&runtime.block_on(gateway_status::run(&args))))
            }
            Some(GatewayAction::Install(args)) => {
                let opts = service::cmd::InstallOptions {
                    force: args.force,
                    port: args.port,
                    system: args.system,
                };
                Ok(print_service(&service::cmd::install(opts), args.json))
            }
            Some(GatewayAction::Uninstall(args)) => Ok(lifecycle(service::cmd::Action::Uninstall, &args)),
            Some(GatewayAction::Start(args)) => Ok(lifecycle(service::cmd::Action::Start, &args)),
            Some(GatewayAction::Stop(args)) => Ok(lifecycle(service::cmd::Action::Stop, &args)),
            Some(GatewayAction::Restart(args)) => Ok(lifecycle(service::cmd::Action::Restart, &args)),
        },
        Command::Doctor(args) => Ok(print_rendered(&doctor::run(&args))),
        Command::Completion(args) => {
            let shell = args.shell.or(args.shell_flag).unwrap_or(args::Shell::Bash);
            print!("{}", completion::script(shell));
            Ok(ExitCode::SUCCESS)
        }
        Command::Dashboard(args) => {
            Ok(print_rendered(&runtime.block_on(dashboard_cmd::run(&args.client, args.no_open))))
        }
        Command::Health(args) => client_with(&runtime, &args, "Health", client_cmd::health(&args)),
        Command::Status(args) => {
            client_with(&runtime, &args, "Status", status_cmd::status(&args))
        }
        Command::Agent(args) => client(&runtime, args.json, "Agent", agent_cmd::agent(&args)),
        Command::Setup(args) => match setup_cmd::setup(&args) {
            Ok(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("setup: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Logs(args) => {
            init_logging();
            Ok(ExitCode::from(runtime.block_on(logs_cmd::run(&args))))
        }
        Command::Devices(cmd) => {
            let json = cmd.action.client().json;
            client(&runtime, json, "Devices", devices_cmd::run(&cmd.action))
        }
        Command::Pairing(cmd) => Ok(print_rendered(&match cmd.action {
            args::PairingAction::List(args) => channels_cmd::pairing_list(&args),
            args::PairingAction::Approve(args) => channels_cmd::pairing_approve(&args),
        })),
        Command::Channels(cmd) => match cmd.action {
            args::ChannelsAction::Status(args) => {
                let json = args.client.json;
                client(&runtime, json, "Channels status", async {
                    channels_cmd::channels_status(&args).await.map(|v| output::Report::Text { json: v.clone(), text: channels_cmd::channels_status_text(&v) })
                })
            }
            args::ChannelsAction::Login(args) => {
                let json = args.client.json;
                client(&runtime, json, "Channels login", async {
                    let mut progress: Box<dyn std::io::Write + Send> = if json { Box::new(std::io::sink()) } else { Box::new(std::io::stdout()) };
                    let v = channels_cmd::channels_login(&args, &mut *progress).await?;
                    let message = format!("{}\n", v["message"].as_str().unwrap_or_default());
                    let linked = channels_cmd::login_linked(&v);
                    let (stdout, stderr) = if linked { (message, String::new()) } else { (String::new(), message) };
                    Ok(output::Report::Shaped(output::Shaped { json: Some(v), text: stdout, stderr, code: u8::from(!linked) }))
                })
            }
            args::ChannelsAction::Logout(args) => {
                let json = args.client.json;
                client(&runtime, json, "Channels logout", async {
                    channels_cmd::channels_logout(&args).await.map(|v| output::Report::Text { text: channels_cmd::logout_text(&v), json: v })
                })
            }
        },
        Command::Message(cmd) => match cmd.action {
            args::MessageAction::Send(args) => {
                let json = args.client.json;
                client(&runtime, json, "Message send", async {
                    match channels_cmd::message_send(&args).await {
                        Ok(v) => Ok(output::Report::Text { text: channels_cmd::sent_text(&v), json: v }),
                        // A refused delivery reads as the reference prints it: the error's text.
                        Err(output::CallFailure::Gateway(openclaw_io::client::ClientError::Rejected { error, .. })) if !json => {
                            Ok(output::Report::Shaped(output::Shaped { json: None, text: String::new(), stderr: format!("{}\n", error.message), code: 1 }))
                        }
                        Err(e) => Err(e),
                    }
                })
            }
        },
        Command::Nodes(cmd) => {
            let json = nodes_cmd::wants_json(&cmd.action);
            client(&runtime, json, "Nodes", nodes_cmd::run(cmd.action))
        }
        Command::Sessions(cmd) => match cmd.action {
            args::SessionsAction::List(args) => {
                client_with(&runtime, &args, "Sessions", agent_cmd::sessions_list(&args))
            }
        },
    }
}

fn lifecycle(action: service::cmd::Action, args: &args::ServiceArgs) -> ExitCode {
    print_service(&service::cmd::lifecycle(action, args.system), args.json)
}

fn print_service(outcome: &service::cmd::Outcome, json: bool) -> ExitCode {
    let (stdout, stderr, code) = outcome.render(json);
    print_rendered(&output::Rendered { stdout, stderr, code })
}

fn print_rendered(rendered: &output::Rendered) -> ExitCode {
    print!("{}", rendered.stdout);
    eprint!("{}", rendered.stderr);
    let _ = std::io::stdout().flush();
    ExitCode::from(rendered.code)
}

/// Prints a config command's (or the config guard's) output; its exit code.
fn print_outcome(outcome: &config_cmd::Outcome) -> ExitCode {
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    let _ = std::io::stdout().flush();
    ExitCode::from(outcome.code)
}

fn run_gateway(runtime: &tokio::runtime::Runtime, args: args::RunArgs) -> anyhow::Result<ExitCode> {
    log_setup::init_gateway(&args);
    let stopped = runtime.block_on(run::run(args));
    // The file writer is a background thread: let it finish before the process exits.
    if let Some(logs) = openclaw_io::logs::installed() {
        logs.flush();
    }
    match stopped {
        Ok(Stopped::Cleanly) => Ok(ExitCode::SUCCESS),
        Ok(Stopped::Abruptly { code }) => {
            // Exit without waiting for the runtime's tasks: the drain is being abandoned.
            let _ = std::io::stdout().flush();
            std::process::exit(i32::from(code))
        }
        Err(error) => {
            eprintln!("{error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn client_with(
    runtime: &tokio::runtime::Runtime,
    args: &ClientArgs,
    command: &str,
    fut: impl std::future::Future<Output = Result<Report, CallFailure>>,
) -> anyhow::Result<ExitCode> {
    client(runtime, args.json, command, fut)
}

fn client(
    runtime: &tokio::runtime::Runtime,
    json: bool,
    command: &str,
    fut: impl std::future::Future<Output = Result<Report, CallFailure>>,
) -> anyhow::Result<ExitCode> {
    init_logging();
    let rendered = match runtime.block_on(fut) {
        Ok(report) => report.render(json),
        Err(failure) => failure.render(json, command),
    };
    print!("{}", rendered.stdout);
    eprint!("{}", rendered.stderr);
    std::io::stdout()
        .flush()
        .context("cannot write to stdout")?;
    Ok(ExitCode::from(rendered.code))
}

/// Client commands keep stdout for their result: warnings go to stderr (`RUST_LOG` wins).
/// The gateway's own logging is [`log_setup::init_gateway`].
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
