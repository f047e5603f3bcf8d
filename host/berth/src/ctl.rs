//! `berth ctl`: the command-line client, built on `berth-client`.
//!
//! Exit codes (for scripts): 0 success; 1 the server answered with an error; 2 bad
//! usage or input; 3 not logged in, credentials rejected, or not allowed; 4 cannot
//! reach the server.

mod schedules;
mod stacks;
mod state;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use berth_client::{Client, ClientError};
use berth_protocol::api::Empty;
use berth_protocol::api::audit::{AuditExport, AuditFilter, AuditQuery, ExportFormat};
use berth_protocol::api::auth::Credential;
use berth_protocol::api::catalogue::{self as cat, AuthWhoami};
use berth_protocol::api::tokens::{CreateToken, ListTokens, RevokeToken};
use berth_protocol::api::users::{CreateUser, UpdateUser, UserName};
use berth_protocol::auth::LoginRequest;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Berth's URL [env: BERTH_URL] [default: the one saved by `login`, else http://127.0.0.1:8080]
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// An API token to use instead of the saved one [env: BERTH_TOKEN]
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print JSON (one document per result) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Log in and save an API token (0600, in your config directory).
    Login {
        /// User name [default: $USER]
        #[arg(long)]
        user: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// A code from your authenticator app (or a recovery code), if you enrolled one.
        #[arg(long)]
        totp: Option<String>,
    },
    /// Revoke the saved token and forget it.
    Logout,
    /// Who the token belongs to, and its role.
    Whoami,
    /// Call any method: `berth ctl call system.info` or `call users.create '{"name":..}'`.
    Call {
        method: String,
        /// Params as a JSON object (default `{}`).
        params: Option<String>,
    },
    /// Print a channel's data as it arrives: `berth ctl watch system.stats`.
    Watch {
        kind: String,
        params: Option<String>,
        /// Stop after this many items.
        #[arg(long)]
        count: Option<u64>,
    },
    /// API tokens.
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// Users (admin).
    #[command(subcommand)]
    Users(UsersCmd),
    /// Cron schedules: backups with retention, lifecycle actions, sleep windows.
    #[command(subcommand)]
    Schedules(schedules::SchedulesCmd),
    /// Compose stacks' files: list, get, validate, create, save, delete, versions.
    #[command(subcommand)]
    Stacks(stacks::StacksCmd),
    /// Berth's own state (admin): `state backup` to a storage instance.
    #[command(subcommand)]
    State(state::StateCmd),
    /// The audit log (admin), newest first.
    Audit {
        #[arg(long)]
        actor: Option<String>,
        /// A method, or a prefix ending in `.` (e.g. `users.`).
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        target: Option<String>,
        /// ok, error, or an error code.
        #[arg(long)]
        outcome: Option<String>,
        /// RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Write everything matching as csv or jsonl to standard output.
        #[arg(long, value_name = "FORMAT")]
        export: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokensCmd {
    /// Create a token; its secret is printed once.
    Create {
        name: String,
        /// viewer, operator or admin (at most your own) [default: your role]
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Your tokens (--all: everyone's, admin).
    List {
        #[arg(long)]
        all: bool,
    },
    Revoke {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCmd {
    List,
    /// Create a user; the password is read from standard input (or prompted).
    Create {
        name: String,
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Change a user's role, reset their password, or end their sessions.
    Update {
        name: String,
        #[arg(long)]
        role: Option<String>,
        /// Read a new password from standard input (or prompt).
        #[arg(long)]
        reset_password: bool,
        #[arg(long)]
        revoke_sessions: bool,
        #[arg(long)]
        reset_totp: bool,
    },
    Delete {
        name: String,
    },
}

/// What `login` saves.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    url: String,
    token: String,
}

fn saved_path() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .context("neither XDG_CONFIG_HOME nor HOME is set")?;
    Ok(base.join("berth").join("credentials.json"))
}

fn load_saved() -> Option<Saved> {
    let text = std::fs::read_to_string(saved_path().ok()?).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(saved: &Saved) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let path = saved_path()?;
    let dir = path.parent().expect("has a parent");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    // An existing file keeps its mode on open; force 0600.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(serde_json::to_string_pretty(saved)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// An error with the exit code it maps to.
#[derive(Debug)]
struct Fail(u8, String);

fn classify(e: &ClientError) -> u8 {
    match e {
        ClientError::Connect(m) if m.starts_with("HTTP 4") => 3,
        ClientError::Connect(_) => 4,
        ClientError::Closed { code: 4401, .. } => 3,
        ClientError::Closed { .. } => 4,
        ClientError::Server(b) => match b.code {
            ErrorCode::Unauthenticated | ErrorCode::Forbidden => 3,
            ErrorCode::BadRequest => 2,
            _ => 1,
        },
        ClientError::Protocol(_) => 1,
    }
}

impl From<ClientError> for Fail {
    fn from(e: ClientError) -> Self {
        let mut msg = e.to_string();
        if let Some(d) = e.body().and_then(|b| b.details.as_ref()) {
            msg.push_str(&format!(" {d}"));
        }
        Fail(classify(&e), msg)
    }
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Self {
        Fail(2, format!("{e:#}"))
    }
}

pub fn run(args: CtlArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth ctl: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("berth ctl: {msg}");
            ExitCode::from(code)
        }
    }
}

fn parse_role(s: &str) -> Result<Role, Fail> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
        Fail(
            2,
            format!("unknown role {s:?}: use viewer, operator or admin"),
        )
    })
}

fn parse_params(p: Option<&str>) -> Result<serde_json::Value, Fail> {
    match p {
        None => Ok(serde_json::json!({})),
        Some(t) => {
            let v: serde_json::Value = serde_json::from_str(t)
                .map_err(|e| Fail(2, format!("params are not JSON: {e}")))?;
            if v.is_object() {
                Ok(v)
            } else {
                Err(Fail(2, "params must be a JSON object".to_owned()))
            }
        }
    }
}

fn read_secret(prompt: &str, from_stdin: bool) -> Result<String, Fail> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Fail(2, e.to_string()))?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    rpassword::prompt_password(prompt).map_err(|e| Fail(2, e.to_string()))
}

fn print_json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
}

async fn dispatch(args: CtlArgs) -> Result<(), Fail> {
    let saved = load_saved();
    let url = args
        .url
        .or_else(|| std::env::var("BERTH_URL").ok())
        .or_else(|| saved.as_ref().map(|s| s.url.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let token = args
        .token
        .or_else(|| std::env::var("BERTH_TOKEN").ok())
        .or_else(|| saved.as_ref().map(|s| s.token.clone()));
    let json = args.json;

    if let CtlCommand::Login {
        user,
        password_stdin,
        totp,
    } = args.command
    {
        return login(&url, user, password_stdin, totp, json).await;
    }
    let Some(token) = token else {
        return Err(Fail(
            3,
            "not logged in: run `berth ctl login` or set BERTH_TOKEN".to_owned(),
        ));
    };
    let client = Client::connect(&url, &token).await?;
    match args.command {
        CtlCommand::Login { .. } => unreachable!("handled above"),
        CtlCommand::Logout => logout(&client, json).await?,
        CtlCommand::Whoami => whoami(&client, json).await?,
        CtlCommand::Call { method, params } => {
            let v = client
                .call_raw(&method, parse_params(params.as_deref())?)
                .await?;
            print_json(&v);
        }
        CtlCommand::Watch {
            kind,
            params,
            count,
        } => watch(&client, &kind, params.as_deref(), count).await?,
        CtlCommand::Tokens(cmd) => tokens(&client, cmd, json).await?,
        CtlCommand::Users(cmd) => users(&client, cmd, json).await?,
        CtlCommand::Schedules(cmd) => schedules::schedules(&client, cmd, json).await?,
        CtlCommand::Stacks(cmd) => stacks::stacks(&client, cmd, json).await?,
        CtlCommand::State(cmd) => state::state(&client, cmd, json).await?,
        CtlCommand::Audit {
            actor,
            method,
            target,
            outcome,
            since,
            until,
            limit,
            export,
        } => {
            let filter = AuditFilter {
                actor,
                method,
                target,
                outcome,
                since,
                until,
            };
            match export {
                Some(format) => audit_export(&client, filter, &format).await?,
                None => audit(&client, filter, limit, json).await?,
            }
        }
    }
    Ok(())
}

/// Revokes the token in use (a session ends with its connection) and forgets it.
async fn logout(client: &Client, json: bool) -> Result<(), Fail> {
    let me = client.call::<AuthWhoami>(Empty {}).await?;
    if let Credential::Token { id, .. } = me.credential {
        client.call::<cat::TokensRevoke>(RevokeToken { id }).await?;
    }
    if let Ok(p) = saved_path() {
        let _ = std::fs::remove_file(p);
    }
    if !json {
        println!("logged out");
    }
    Ok(())
}

async fn whoami(client: &Client, json: bool) -> Result<(), Fail> {
    let me = client.call::<AuthWhoami>(Empty {}).await?;
    if json {
        print_json(&me);
    } else {
        let via = match &me.credential {
            Credential::Token { name, .. } => format!("token {name:?}"),
            Credential::Session { .. } => "session".to_owned(),
        };
        println!("{} ({}) via {via}", me.user.name, me.role.as_str());
    }
    Ok(())
}

/// Prints a channel's items as JSON lines, `count` of them or until it ends.
async fn watch(
    client: &Client,
    kind: &str,
    params: Option<&str>,
    count: Option<u64>,
) -> Result<(), Fail> {
    let mut sub = client.open_raw(kind, parse_params(params)?, None).await?;
    let mut n = 0;
    while let Some(item) = sub.next().await {
        println!("{}", serde_json::to_string(&item?).expect("serialisable"));
        n += 1;
        if count.is_some_and(|c| n >= c) {
            break;
        }
    }
    Ok(())
}

/// The whole filtered audit log in `format` (csv or jsonl), page by page.
async fn audit_export(client: &Client, filter: AuditFilter, format: &str) -> Result<(), Fail> {
    let format = match format {
        "csv" => ExportFormat::Csv,
        "jsonl" => ExportFormat::Jsonl,
        _ => {
            return Err(Fail(
                2,
                format!("unknown export format {format:?}: use csv or jsonl"),
            ));
        }
    };
    let mut cursor = None;
    loop {
        let page = client
            .call::<cat::AuditExport>(AuditExport {
                format,
                query: AuditQuery {
                    filter: filter.clone(),
                    cursor,
                    limit: Some(1000),
                },
            })
            .await?;
        print!("{}", page.content);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// The newest `limit` audit entries matching `filter`.
async fn audit(client: &Client, filter: AuditFilter, limit: u32, json: bool) -> Result<(), Fail> {
    let page = client
        .call::<cat::AuditList>(AuditQuery {
            filter,
            cursor: None,
            limit: Some(limit),
        })
        .await?;
    if json {
        print_json(&page);
        return Ok(());
    }
    for e in page.entries {
        println!(
            "{}  {:<12} {:<22} {:<16} {:<14} {}",
            e.time,
            e.actor,
            e.method,
            e.target.unwrap_or_default(),
            e.outcome,
            e.client
        );
    }
    Ok(())
}

async fn login(
    url: &str,
    user: Option<String>,
    password_stdin: bool,
    totp: Option<String>,
    json: bool,
) -> Result<(), Fail> {
    let username = user
        .or_else(|| std::env::var("USER").ok())
        .ok_or_else(|| Fail(2, "name the user with --user".to_owned()))?;
    let password = read_secret(&format!("password for {username}: "), password_stdin)?;
    let (session, resp) = berth_client::http::login(
        url,
        &LoginRequest {
            username,
            password,
            totp,
        },
    )
    .await?;
    // Trade the 12-hour browser session for a named API token: scripts keep working,
    // and `berth ctl logout` (or the Tokens page) can revoke exactly this machine.
    let client = Client::connect(url, &session).await?;
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown host".to_owned());
    let name = format!(
        "berth ctl on {host} ({})",
        berth_protocol::api::rfc3339(berth_identity::users::now_ms())
    );
    let created = client
        .call::<cat::TokensCreate>(CreateToken {
            name,
            role: None,
            expires_in_days: None,
        })
        .await?;
    drop(client);
    berth_client::http::logout(url, &session).await?;
    let path = save(&Saved {
        url: url.to_owned(),
        token: created.secret,
    })?;
    if json {
        print_json(&serde_json::json!({"user": resp.user, "token": created.token, "saved": path}));
    } else {
        println!(
            "logged in as {} ({}); token saved to {}",
            resp.user.name,
            resp.role.as_str(),
            path.display()
        );
    }
    Ok(())
}

async fn tokens(client: &Client, cmd: TokensCmd, json: bool) -> Result<(), Fail> {
    match cmd {
        TokensCmd::Create {
            name,
            role,
            expires_in_days,
        } => {
            let role = role.as_deref().map(parse_role).transpose()?;
            let t = client
                .call::<cat::TokensCreate>(CreateToken {
                    name,
                    role,
                    expires_in_days,
                })
                .await?;
            if json {
                print_json(&t);
            } else {
                println!("{}", t.secret);
                eprintln!(
                    "token {} ({}) created; the secret above is shown only once",
                    t.token.id,
                    t.token.role.as_str()
                );
            }
        }
        TokensCmd::List { all } => {
            let l = client.call::<cat::TokensList>(ListTokens { all }).await?;
            if json {
                print_json(&l);
            } else {
                for t in l.tokens {
                    println!(
                        "{}  {:<10} {:<12} {:<30} expires {}  last used {}",
                        t.id,
                        t.role.as_str(),
                        t.user,
                        t.name,
                        t.expires_at.unwrap_or_else(|| "never".into()),
                        t.last_used_at.unwrap_or_else(|| "never".into())
                    );
                }
            }
        }
        TokensCmd::Revoke { id } => {
            client.call::<cat::TokensRevoke>(RevokeToken { id }).await?;
            if !json {
                println!("revoked");
            }
        }
    }
    Ok(())
}

async fn users(client: &Client, cmd: UsersCmd, json: bool) -> Result<(), Fail> {
    match cmd {
        UsersCmd::List => {
            let l = client.call::<cat::UsersList>(Empty {}).await?;
            if json {
                print_json(&l);
            } else {
                for u in l.users {
                    println!(
                        "{:<24} {:<9} sessions {:<3} 2fa {}",
                        u.name,
                        u.role.as_str(),
                        u.sessions,
                        if u.totp_enabled { "on" } else { "off" }
                    );
                }
            }
        }
        UsersCmd::Create { name, role } => {
            let role = parse_role(&role)?;
            let password = read_secret(&format!("password for {name}: "), false)?;
            let u = client
                .call::<cat::UsersCreate>(CreateUser {
                    name,
                    role,
                    password,
                })
                .await?;
            if json {
                print_json(&u);
            } else {
                println!("created {} ({})", u.name, u.role.as_str());
            }
        }
        UsersCmd::Update {
            name,
            role,
            reset_password,
            revoke_sessions,
            reset_totp,
        } => {
            let role = role.as_deref().map(parse_role).transpose()?;
            let password = if reset_password {
                Some(read_secret(&format!("new password for {name}: "), false)?)
            } else {
                None
            };
            let u = client
                .call::<cat::UsersUpdate>(UpdateUser {
                    name,
                    role,
                    password,
                    revoke_sessions,
                    reset_totp,
                })
                .await?;
            if json {
                print_json(&u);
            } else {
                println!("updated {} ({})", u.name, u.role.as_str());
            }
        }
        UsersCmd::Delete { name } => {
            client.call::<cat::UsersDelete>(UserName { name }).await?;
            if !json {
                println!("deleted");
            }
        }
    }
    Ok(())
}
