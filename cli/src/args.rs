//! The command line, parsed once by clap into typed values (lifecycle.md §1–2).
//!
//! Only the shape of the command line lives here; what the values mean (precedence against the
//! environment and the config file) is decided in `run.rs` and `client_cmd.rs`.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run the OpenClaw Gateway (WebSocket control plane, protocol v4) or talk to a running one.
#[derive(Debug, Parser)]
#[command(
    name = "openclaw",
    version,
    max_term_width = 100,
    after_help = "Config: $OPENCLAW_CONFIG_PATH, else $OPENCLAW_STATE_DIR/openclaw.json, else \
                  ~/.openclaw/openclaw.json (JSON5).\nExit codes: 0 success, 1 failure, 2 bad \
                  command line."
)]
pub struct Cli {
    /// Dev profile: isolate state under ~/.openclaw-dev, default gateway port 19001, and shift
    /// derived ports (browser/canvas)
    // --dev and --profile are taken out of argv by `profile::apply_to_process` before clap runs
    // (they only set env defaults); they are declared here so that --help lists them.
    #[arg(long)]
    pub dev: bool,

    /// Use a named profile (isolates OPENCLAW_STATE_DIR/OPENCLAW_CONFIG_PATH under
    /// ~/.openclaw-<name>)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway in the foreground (`openclaw gateway`), install it as a service, or
    /// call a running one
    Gateway(GatewayCommand),
    /// Print a short health summary of the running gateway (agents, session store)
    Health(ClientArgs),
    /// Show the gateway of this profile: reachable, version, uptime, sessions, auth, config,
    /// state dir and ports
    #[command(
        after_help = "Examples:\n  openclaw status\n  openclaw --dev status --json\nExits 0 \
                      when the gateway is unreachable too (the output says so)."
    )]
    Status(ClientArgs),
    /// Run one agent turn through the running gateway and print the reply
    #[command(
        after_help = "Examples:\n  openclaw agent --to +15555550123 --message \"status update\"\n  openclaw agent \
                      --session-key agent:main:ops --message hi --json"
    )]
    Agent(AgentArgs),
    /// Inspect the gateway's sessions
    Sessions(SessionsCommand),
    /// Device pairing and device tokens: list, approve, reject, remove, rename, rotate, revoke
    #[command(
        after_help = "Examples:\n  openclaw devices list --json\n  openclaw devices approve <requestId>\n  \
                      openclaw devices rotate --device <id> --role node\n  openclaw devices revoke --device <id> --role node"
    )]
    Devices(crate::devices_cmd::DevicesCommand),
    /// Manage the gateway's nodes: pairing of their command surfaces, status, invoke
    #[command(
        after_help = "Examples:\n  openclaw nodes pending\n  openclaw nodes approve <requestId>\n  openclaw nodes \
                      list --json\n  openclaw nodes invoke --node <id|name|ip> --command system.which --params \
                      '{\"bins\":[\"sh\"]}'"
    )]
    Nodes(NodesCommand),
    /// Tail the gateway's file log through the running gateway (`logs.tail`)
    #[command(
        after_help = "Examples:\n  openclaw logs --limit 50\n  openclaw logs --follow\n  openclaw logs \
                      --json --limit 5"
    )]
    Logs(LogsArgs),
    /// Read, change or check the config file (get, set, unset, validate, file, schema)
    #[command(
        after_help = "Examples:\n  openclaw config get gateway.port\n  openclaw config set gateway.mode \
                      local\n  openclaw config unset gateway.auth.token\n  openclaw config validate --json"
    )]
    Config(ConfigCommand),
    /// Create a working config (gateway.mode=local, a generated token, the workspace folder)
    /// if there is none; with --model, set the default model
    #[command(
        after_help = "An existing config is never replaced; --model only changes models.providers.<p> \
                      and agents.defaults.model.\nExamples:\n  openclaw setup\n  openclaw setup --model \
                      ollama/llama3.1 --base-url http://127.0.0.1:11434/v1"
    )]
    Setup(SetupArgs),
    /// Check the config, the service, ports, permissions, the token and the logs; --fix
    /// repairs what is safe
    #[command(
        after_help = "Exits 0 whatever it finds (the findings are the result, as the \
                      reference); 1 only when a --fix repair failed.\nExamples:\n  openclaw doctor\n  openclaw doctor --fix\n  openclaw \
                      doctor --json"
    )]
    Doctor(DoctorArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  openclaw completion bash > ~/.local/share/bash-completion/completions/openclaw\n  \
                      openclaw completion zsh > \"${fpath[1]}/_openclaw\"\n  openclaw completion fish > \
                      ~/.config/fish/completions/openclaw.fish"
    )]
    Completion(CompletionArgs),
    /// Secure DM pairing: list and approve the chat senders waiting for access
    #[command(
        after_help = "Examples:\n  openclaw pairing list telegram\n  openclaw pairing approve telegram 7TD7KYQQ"
    )]
    Pairing(PairingCommand),
    /// The chat channel accounts of the running gateway
    Channels(ChannelsCommand),
    /// Send a message through a chat channel of the running gateway
    Message(MessageCommand),
    /// Open the Control UI with your current token
    #[command(
        after_help = "Examples:\n  openclaw dashboard\n  openclaw dashboard --no-open\n  openclaw dashboard --json   \
                      # {ok, url (with #token=…), httpUrl, wsUrl, port, tokenIncluded}"
    )]
    Dashboard(DashboardArgs),
}

/// `openclaw pairing`.
#[derive(Debug, Args)]
pub struct PairingCommand {
    #[command(subcommand)]
    pub action: PairingAction,
}

#[derive(Debug, Subcommand)]
pub enum PairingAction {
    /// List pending pairing requests
    List(PairingListArgs),
    /// Approve a pairing code and allow that sender
    Approve(PairingApproveArgs),
}

/// `openclaw pairing list [channel]`.
#[derive(Debug, Args)]
pub struct PairingListArgs {
    /// Channel (telegram, whatsapp)
    #[arg(value_name = "CHANNEL")]
    pub channel_arg: Option<String>,
    /// Channel (telegram, whatsapp)
    #[arg(long)]
    pub channel: Option<String>,
    /// Account id (for multi-account channels)
    #[arg(long)]
    pub account: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// `openclaw pairing approve <channel> <code>`.
#[derive(Debug, Args)]
pub struct PairingApproveArgs {
    /// Pairing code (or channel when using 2 args)
    #[arg(value_name = "CODE_OR_CHANNEL")]
    pub code_or_channel: String,
    /// Pairing code (when channel is passed as the 1st arg)
    #[arg(value_name = "CODE")]
    pub code: Option<String>,
    /// Channel (telegram, whatsapp)
    #[arg(long)]
    pub channel: Option<String>,
}

/// `openclaw channels`.
#[derive(Debug, Args)]
pub struct ChannelsCommand {
    #[command(subcommand)]
    pub action: ChannelsAction,
}

#[derive(Debug, Subcommand)]
pub enum ChannelsAction {
    /// Show each channel account: configured, running, connected, last error
    #[command(after_help = "Examples:\n  openclaw channels status\n  openclaw channels status --probe --json")]
    Status(ChannelsStatusArgs),
    /// Log out of a channel account: stop it and remove its credentials (Telegram: the bot token
    /// in the config; WhatsApp: the linked device's credentials)
    #[command(after_help = "Examples:\n  openclaw channels logout --channel telegram\n  openclaw channels logout --channel telegram --account work\n  openclaw channels logout --channel whatsapp")]
    Logout(ChannelsLogoutArgs),
    /// Link a WhatsApp account: shows the QR to scan (refreshed as WhatsApp rotates it) until
    /// the phone has linked (the running gateway owns the connection)
    #[command(after_help = "Examples:\n  openclaw channels login --channel whatsapp\n  openclaw channels login --channel whatsapp --account work --force")]
    Login(ChannelsLoginArgs),
}

/// `openclaw channels login`.
#[derive(Debug, Args)]
pub struct ChannelsLoginArgs {
    /// Channel (whatsapp)
    #[arg(long, default_value = "whatsapp")]
    pub channel: String,
    /// Account id (default: the channel's default account)
    #[arg(long)]
    pub account: Option<String>,
    /// Unlink first and start over with a new QR
    #[arg(long)]
    pub force: bool,
    /// Print the QR payload instead of drawing it
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw channels status [--channel <c>] [--probe]`.
#[derive(Debug, Args)]
pub struct ChannelsStatusArgs {
    /// Only show one channel (telegram)
    #[arg(long)]
    pub channel: Option<String>,
    /// Probe channel credentials (a live getMe per Telegram account)
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw channels logout [--channel <c>] [--account <id>]`.
#[derive(Debug, Args)]
pub struct ChannelsLogoutArgs {
    /// Channel (telegram, whatsapp; default: telegram)
    #[arg(long)]
    pub channel: Option<String>,
    /// Account id (default: the channel's default account)
    #[arg(long)]
    pub account: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw message`.
#[derive(Debug, Args)]
pub struct MessageCommand {
    #[command(subcommand)]
    pub action: MessageAction,
}

#[derive(Debug, Subcommand)]
pub enum MessageAction {
    /// Send a message, with media if given (the `send` RPC)
    #[command(after_help = "Examples:\n  openclaw message send --target 123456789 --message \"hi\"\n  openclaw message send --channel telegram --target @mychannel --message \"hi\" --json\n  openclaw message send --target 123456789 --media ./report.pdf --message \"the report\"")]
    Send(MessageSendArgs),
}

/// `openclaw message send`.
#[derive(Debug, Args)]
pub struct MessageSendArgs {
    /// Recipient (Telegram: chat id, @username, <chat>:topic:<n>; WhatsApp: E.164 number or
    /// group JID)
    #[arg(long, short = 't')]
    pub target: String,
    /// Message body (required unless --media is set; with media: the caption when it fits
    /// 1024 characters, else a message after the media)
    #[arg(long, short = 'm', required_unless_present = "media")]
    pub message: Option<String>,
    /// Attach media (image/audio/video/document): a local path or an http(s) URL. Repeat to
    /// attach several files
    #[arg(long, value_name = "PATH_OR_URL")]
    pub media: Vec<String>,
    /// Send images, GIFs and videos as documents (no Telegram compression)
    #[arg(long)]
    pub force_document: bool,
    /// Thread id (Telegram forum topic)
    #[arg(long, value_name = "ID")]
    pub thread_id: Option<String>,
    /// Channel (default: the one configured)
    #[arg(long)]
    pub channel: Option<String>,
    /// Account id (default: the channel's default account)
    #[arg(long)]
    pub account: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Print URL but do not launch a browser
    #[arg(long)]
    pub no_open: bool,

    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Default model as <provider>/<model> (without it, setup only creates a missing config)
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub model: Option<String>,
    /// The provider's base URL (required for a provider not yet configured)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Environment variable holding the API key (stored as "${VAR}", never the key itself)
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Wire format: openai-completions (default for new providers) or anthropic-messages
    #[arg(long, value_name = "API", value_parser = ["openai-completions", "anthropic-messages"])]
    pub api: Option<String>,
}

/// `openclaw config`.
#[derive(Debug, Args)]
pub struct ConfigCommand {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print a config value by dot path (secrets redacted)
    Get(ConfigGetArgs),
    /// Set a config value by dot path (the value is parsed as JSON5, else taken as a string)
    Set(ConfigSetArgs),
    /// Remove a config value by dot path
    Unset(ConfigPathArgs),
    /// Validate the config file without starting the gateway
    Validate(ConfigValidateArgs),
    /// Print the active config file path
    File,
    /// Print the JSON schema of the config file
    Schema,
}

/// `openclaw config get`.
#[derive(Debug, Args)]
pub struct ConfigGetArgs {
    /// Dot path, e.g. gateway.auth.mode (array items as list[0])
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Print the value as JSON
    #[arg(long)]
    pub json: bool,
}

/// `openclaw config set`.
#[derive(Debug, Args)]
pub struct ConfigSetArgs {
    /// Dot path, e.g. gateway.port
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Value: JSON5 (19001, true, "text", {a: 1}); anything else is taken as a string
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    pub value: String,
    /// Require the value to be strict JSON
    #[arg(long)]
    pub strict_json: bool,
}

/// `openclaw config unset`.
#[derive(Debug, Args)]
pub struct ConfigPathArgs {
    /// Dot path, e.g. gateway.auth.token
    #[arg(value_name = "PATH")]
    pub path: String,
}

/// `openclaw config validate`.
#[derive(Debug, Args)]
pub struct ConfigValidateArgs {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// `openclaw agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Message body for the agent
    #[arg(short, long, value_name = "TEXT")]
    pub message: String,
    /// Recipient number in E.164 (passed to the gateway, which picks the session)
    #[arg(short, long, value_name = "NUMBER", conflicts_with_all = ["session_key", "session_id"])]
    pub to: Option<String>,
    /// Explicit session key (agent:<id>:<key>, or a bare key scoped to --agent)
    #[arg(long, value_name = "KEY", conflicts_with = "session_id")]
    pub session_key: Option<String>,
    /// Use an explicit session id
    #[arg(long, value_name = "ID")]
    pub session_id: Option<String>,
    /// Agent id
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
    /// Model override for this run (provider/model or a model id)
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Thinking level (off, minimal, low, medium, high, …)
    #[arg(long, value_name = "LEVEL")]
    pub thinking: Option<String>,
    /// Run timeout in seconds (0: none). Default: the gateway's (600)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Gateway WebSocket URL (default as for `openclaw health`)
    #[arg(long, env = "OPENCLAW_GATEWAY_URL", hide_env_values = true, value_name = "URL")]
    pub url: Option<String>,
    /// Token to authenticate with
    #[arg(long, env = "OPENCLAW_GATEWAY_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Password to authenticate with
    #[arg(long, env = "OPENCLAW_GATEWAY_PASSWORD", hide_env_values = true, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Print the final result as JSON
    #[arg(long)]
    pub json: bool,
}

/// `openclaw logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Max lines to return
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Max bytes to read
    #[arg(long, value_name = "N", default_value_t = 250_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_bytes: u32,
    /// Follow log output (poll with the returned cursor)
    #[arg(long)]
    pub follow: bool,
    /// Polling interval in ms
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Plain text output (no ANSI styling)
    #[arg(long)]
    pub plain: bool,
    /// Disable ANSI colors
    #[arg(long)]
    pub no_color: bool,
    /// Display timestamps in the local time zone (the default)
    #[arg(long, overrides_with = "utc")]
    pub local_time: bool,
    /// Display timestamps in UTC
    #[arg(long, overrides_with = "local_time")]
    pub utc: bool,
    // With --json: one object per line (meta, log, raw, notice).
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw nodes`.
#[derive(Debug, Args)]
pub struct NodesCommand {
    #[command(subcommand)]
    pub action: NodesAction,
}

#[derive(Debug, Subcommand)]
pub enum NodesAction {
    /// List pending pairing requests (node command surfaces waiting for approval)
    Pending(ClientArgs),
    /// Approve a pending pairing request (prints the approved node as JSON)
    Approve(NodesRequestArgs),
    /// Reject a pending pairing request (prints the answer as JSON)
    Reject(NodesRequestArgs),
    /// List pending and paired nodes
    List(NodesListArgs),
    /// Describe a node (capabilities and the commands it may be asked to run)
    Describe(NodesNodeArgs),
    /// Invoke a command on a paired node (prints the node's answer as JSON)
    Invoke(NodesInvokeArgs),
    /// Rename a paired node (display name override)
    Rename(NodesRenameArgs),
    /// Remove a paired node entry (its node role; its sockets are closed)
    Remove(NodesNodeArgs),
}

/// `openclaw nodes approve|reject <requestId>`.
#[derive(Debug, Args)]
pub struct NodesRequestArgs {
    /// Pending request id (from `openclaw nodes pending`)
    #[arg(value_name = "REQUEST_ID")]
    pub request_id: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw nodes list`.
#[derive(Debug, Args)]
pub struct NodesListArgs {
    /// Only show connected nodes
    #[arg(long)]
    pub connected: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw nodes describe|remove --node <id|name|ip>`.
#[derive(Debug, Args)]
pub struct NodesNodeArgs {
    /// Node id, name, or IP
    #[arg(long, value_name = "ID_OR_NAME_OR_IP")]
    pub node: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw nodes invoke`.
#[derive(Debug, Args)]
pub struct NodesInvokeArgs {
    /// Node id, name, or IP
    #[arg(long, value_name = "ID_OR_NAME_OR_IP")]
    pub node: String,
    /// Command (e.g. system.which)
    #[arg(long, value_name = "COMMAND")]
    pub command: String,
    /// JSON object string for params
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub params: String,
    /// Node invoke timeout in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 15_000)]
    pub invoke_timeout: u64,
    /// Idempotency key (default: a random one)
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw nodes rename`.
#[derive(Debug, Args)]
pub struct NodesRenameArgs {
    /// Node id, name, or IP
    #[arg(long, value_name = "ID_OR_NAME_OR_IP")]
    pub node: String,
    /// New display name
    #[arg(long, value_name = "DISPLAY_NAME")]
    pub name: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw sessions list`.
#[derive(Debug, Args)]
pub struct SessionsCommand {
    #[command(subcommand)]
    pub action: SessionsAction,
}

#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// List sessions, most recently active first
    List(ClientArgs),
}

/// `openclaw gateway [run|call|health|status]`; without a subcommand it runs the gateway.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GatewayCommand {
    #[command(subcommand)]
    pub action: Option<GatewayAction>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum GatewayAction {
    /// Run the gateway in the foreground (the same as `openclaw gateway`)
    Run(RunArgs),
    /// Call one RPC method on a running gateway and print its result
    #[command(
        after_help = "Example:\n  openclaw gateway call system-event --params \
                            '{\"text\":\"hi\"}' --json"
    )]
    Call(CallArgs),
    /// Ask a running gateway for its health (`health` RPC)
    Health(ClientArgs),
    /// Show the gateway service (installed, loaded, running, pid) and probe connectivity
    #[command(
        after_help = "Connects as a probe (protocol 3..4) and makes no RPC. Exits 0 when the \
                      gateway cannot be reached or refuses the credentials too (the output says \
                      so); with --require-rpc it exits 1 then.\nExamples:\n  openclaw gateway \
                      status\n  openclaw gateway status --deep --json"
    )]
    Status(GatewayStatusArgs),
    /// Install the gateway as a service (systemd user unit on Linux, LaunchAgent on macOS) and
    /// start it
    #[command(
        after_help = "Writes ~/.config/systemd/user/openclaw-gateway[-<profile>].service (macOS: \
                      ~/Library/LaunchAgents/ai.openclaw.<profile|gateway>.plist), then runs \
                      systemctl --user daemon-reload and enable --now. Already installed and \
                      unchanged: nothing to do (exit 0). Without a reachable service manager (a \
                      container) the unit is still written and the commands to start it are \
                      printed.\nExamples:\n  openclaw gateway install\n  openclaw --profile \
                      rescue gateway install --port 19789\n  sudo openclaw gateway install --system"
    )]
    Install(InstallArgs),
    /// Stop and remove the gateway service
    Uninstall(ServiceArgs),
    /// Start the installed gateway service
    Start(ServiceArgs),
    /// Stop the gateway service (SIGTERM through the service manager; exit 143 counts as a
    /// clean stop)
    Stop(ServiceArgs),
    /// Restart the gateway service through the service manager
    Restart(ServiceArgs),
}

/// `openclaw gateway status`.
#[derive(Debug, Args)]
pub struct GatewayStatusArgs {
    /// Also scan system-level services (/etc/systemd/system, /usr/lib/systemd/system, …) for
    /// other gateways
    #[arg(long)]
    pub deep: bool,
    /// Skip the RPC probe (service and local view only)
    #[arg(long)]
    pub no_probe: bool,
    /// Exit 1 when the RPC probe fails
    #[arg(long, conflicts_with = "no_probe")]
    pub require_rpc: bool,
    /// Local gateway port to inspect and probe (default: the service's --port, else
    /// $OPENCLAW_GATEWAY_PORT, gateway.port, 18789)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `openclaw gateway install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Rewrite the definition and restart even when it is installed and unchanged
    #[arg(long)]
    pub force: bool,
    /// Port the service's gateway listens on. Default: $OPENCLAW_GATEWAY_PORT, else gateway.port
    /// in the config, else 18789 (19001 with --dev)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Install a system unit (/etc/systemd/system, User= this user, WantedBy=multi-user.target)
    /// instead of a user unit; needs root
    #[arg(long)]
    pub system: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// `openclaw gateway uninstall|start|stop|restart`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The system unit written by `install --system` instead of the user unit
    #[arg(long)]
    pub system: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// `openclaw doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the safe repairs (permissions, the service definition), with backups, and say
    /// what changed
    #[arg(long, alias = "repair")]
    pub fix: bool,
    /// Print the findings as JSON
    #[arg(long)]
    pub json: bool,
    /// Also scan system-level services for other gateways
    #[arg(long)]
    pub deep: bool,
}

/// Shells `openclaw completion` can write a script for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// `openclaw completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell
    #[arg(value_enum, value_name = "SHELL", required_unless_present = "shell_flag")]
    pub shell: Option<Shell>,
    /// The shell (as the reference's -s/--shell)
    #[arg(short = 's', long = "shell", value_enum, value_name = "SHELL", conflicts_with = "shell")]
    pub shell_flag: Option<Shell>,
}

/// How to listen: `loopback` is 127.0.0.1, `lan` is 0.0.0.0, `custom` takes an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BindMode {
    /// 127.0.0.1 only (the default)
    Loopback,
    /// All interfaces (0.0.0.0); needs auth
    Lan,
    /// The address in --host or gateway.customBindHost
    Custom,
}

/// Which shared secret clients must present in `connect.params.auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthChoice {
    /// A token (generated on first start when none is configured)
    Token,
    /// A password (must be configured)
    Password,
    /// No auth; only allowed on a loopback bind
    None,
}

/// Flags of `openclaw gateway` / `openclaw gateway run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Port to listen on; 0 picks a free one. Default: $OPENCLAW_GATEWAY_PORT, else gateway.port
    /// in the config, else 18789
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Where to listen. Default: gateway.bind in the config, else loopback
    #[arg(long, value_enum, value_name = "MODE")]
    pub bind: Option<BindMode>,

    /// With --bind custom: the IP address to listen on (overrides gateway.customBindHost)
    #[arg(long, value_name = "IP")]
    pub host: Option<IpAddr>,

    /// Auth mode. Default: gateway.auth.mode, else password when one is configured, else token
    #[arg(long, value_enum, value_name = "MODE")]
    pub auth: Option<AuthChoice>,

    /// Shared token clients must send (overrides gateway.auth.token). Without any token, one
    /// is generated on first start and kept in <state dir>/gateway.token
    #[arg(
        long,
        env = "OPENCLAW_GATEWAY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Password clients must send with --auth password (overrides gateway.auth.password)
    #[arg(
        long,
        env = "OPENCLAW_GATEWAY_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,

    /// Also print debug logs (handshakes, requests, responses, events) to stdout
    #[arg(long)]
    pub verbose: bool,

    /// Stop whatever listens on the port (SIGTERM, logged with pid and command) before starting
    #[arg(long)]
    pub force: bool,

    /// Start even when the config does not set gateway.mode=local (no config file, or
    /// another mode)
    #[arg(long)]
    pub allow_unconfigured: bool,

    /// Dev mode: when the config file is missing, write a local dev config and seed the dev
    /// workspace (also implied by `openclaw --dev gateway`)
    #[arg(long)]
    pub dev: bool,

    /// With dev mode: first delete the dev config, credentials, sessions and workspace (asks
    /// for confirmation unless --yes)
    #[arg(long)]
    pub reset: bool,

    /// Do not ask before --reset deletes anything
    #[arg(long)]
    pub yes: bool,
}

/// Flags shared by the commands that connect to a running gateway.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Gateway WebSocket URL. Default: ws://127.0.0.1:<port> with the port from
    /// $OPENCLAW_GATEWAY_PORT, else gateway.port in the config, else 18789
    #[arg(
        long,
        env = "OPENCLAW_GATEWAY_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub url: Option<String>,

    /// Token to authenticate with. Default: gateway.auth.token in the config, else the
    /// generated <state dir>/gateway.token
    #[arg(
        long,
        env = "OPENCLAW_GATEWAY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Password to authenticate with (gateways run with --auth password). Default:
    /// gateway.auth.password in the config
    #[arg(
        long,
        env = "OPENCLAW_GATEWAY_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,

    /// Print machine-readable JSON on stdout (errors as {"ok":false,"error":{…}})
    #[arg(long)]
    pub json: bool,

    /// How long to wait for the connection and for each answer, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
}

/// `openclaw gateway call <method> --params <json>`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// RPC method, e.g. health, status, system-presence, system-event
    #[arg(value_name = "METHOD")]
    pub method: String,

    /// Method params as a JSON object
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub params: String,

    #[command(flatten)]
    pub client: ClientArgs,
}

impl From<openclaw_io::settings::Bind> for BindMode {
    fn from(bind: openclaw_io::settings::Bind) -> Self {
        match bind {
            openclaw_io::settings::Bind::Loopback => Self::Loopback,
            openclaw_io::settings::Bind::Lan => Self::Lan,
            openclaw_io::settings::Bind::Custom => Self::Custom,
        }
    }
}

impl From<openclaw_io::settings::AuthKind> for AuthChoice {
    fn from(kind: openclaw_io::settings::AuthKind) -> Self {
        match kind {
            openclaw_io::settings::AuthKind::Token => Self::Token,
            openclaw_io::settings::AuthKind::Password => Self::Password,
            openclaw_io::settings::AuthKind::None => Self::None,
        }
    }
}
