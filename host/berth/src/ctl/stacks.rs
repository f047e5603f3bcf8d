//! `berth ctl stacks …`: the compose stacks' files from the command line.

use std::path::{Path, PathBuf};

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue as cat;
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::stacks::{
    ConvertRun, StackAction, StackDelete, StackFiles, StackOutputParams, StackRef, StackSummary,
    Validation, VersionRef,
};
use berth_protocol::api::streams::{LogsParams, log_sort_key};
use clap::{Args, Subcommand};

use super::{Fail, print_json};

#[derive(Debug, Subcommand)]
pub enum StacksCmd {
    /// Managed stacks and external compose projects, with their services' states.
    List,
    /// A stack's compose file (and `.env` with `--env`).
    Get {
        name: String,
        #[arg(long)]
        env: bool,
    },
    /// Check a compose file (and an `.env`) without saving it.
    Validate {
        name: String,
        compose: PathBuf,
        #[arg(long)]
        env: Option<PathBuf>,
    },
    /// Create a stack from a compose file (and an `.env`).
    Create(FilesArgs),
    /// Save a stack's compose file (and `.env`); the previous files are kept.
    Save(FilesArgs),
    /// Delete a stack's folder (`--down` first runs `compose down`).
    Delete {
        name: String,
        #[arg(long)]
        down: bool,
        #[arg(long)]
        keep_volumes: bool,
    },
    /// A stack's earlier versions, newest first.
    History { name: String },
    /// Make an earlier version the current one.
    Restore { name: String, id: String },
    /// Copy an external compose project's files into a stack of the same name.
    Adopt { name: String },
    /// `compose up -d`, showing its output as it comes (an external project:
    /// start, stop and restart go through Docker).
    Up(ActionArgs),
    /// `compose down` (volumes stay).
    Down(ActionArgs),
    /// `compose restart`.
    Restart(ActionArgs),
    /// `compose pull` (then `up` updates the services).
    Pull(ActionArgs),
    /// `compose stop`.
    Stop(ActionArgs),
    /// `compose start`.
    Start(ActionArgs),
    /// The stack's containers' logs in time order, each line led by its service
    /// (`--follow`: then new lines as they come).
    Logs(LogsArgs),
    /// A `docker run …` line as a compose file (`-`: read it from stdin); flags
    /// compose cannot say go to stderr.
    ConvertRun { command: String },
}

/// A compose action on a stack.
#[derive(Debug, Args)]
pub struct ActionArgs {
    name: String,
    /// Queue it and print the job's id instead of showing its output.
    #[arg(long)]
    detach: bool,
}

/// `stacks logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    name: String,
    /// Only this service's containers.
    #[arg(long)]
    service: Option<String>,
    /// The last N lines of each container (all when absent).
    #[arg(long)]
    tail: Option<u64>,
    /// Keep printing new lines until interrupted.
    #[arg(long, short)]
    follow: bool,
    /// Show Docker's timestamp in front of each line.
    #[arg(long, short)]
    timestamps: bool,
}

/// Each container's log as (service, timestamped line) down `lines`.
async fn read_log(
    client: Client,
    id: String,
    service: String,
    args: LogsParams,
    lines: tokio::sync::mpsc::Sender<(String, String)>,
) -> Result<(), Fail> {
    use tokio::io::AsyncBufReadExt;
    let params = serde_json::to_value(LogsParams { id, ..args }).expect("serialisable");
    let channel = client.open_binary("container.logs", params, None).await?;
    let mut reader = tokio::io::BufReader::new(channel).lines();
    while let Some(line) = reader
        .next_line()
        .await
        .map_err(|e| Fail(1, format!("the log broke off: {e}")))?
    {
        if lines.send((service.clone(), line)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// `stacks logs`: every container's log read at once; without `--follow` printed
/// sorted by time once all have ended, with it printed as lines come.
async fn logs(client: &Client, args: LogsArgs) -> Result<(), Fail> {
    let listed = client
        .call::<cat::ContainersList>(HostOnly::default())
        .await?;
    let members: Vec<_> = listed
        .groups
        .into_iter()
        .filter(|g| g.stack.as_deref() == Some(args.name.as_str()))
        .flat_map(|g| g.containers)
        .filter(|c| args.service.is_none() || c.service == args.service)
        .collect();
    if members.is_empty() {
        return Err(Fail(1, format!("stack {} has no containers", args.name)));
    }
    let width = members
        .iter()
        .map(|c| c.service.as_deref().unwrap_or(&c.name).len())
        .max()
        .unwrap_or(0);
    let template = LogsParams {
        follow: args.follow,
        tail: args.tail,
        timestamps: true,
        ..LogsParams::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut readers = tokio::task::JoinSet::new();
    for c in members {
        let service = c.service.clone().unwrap_or(c.name);
        let (client, tx, template) = (client.clone(), tx.clone(), template.clone());
        readers.spawn(read_log(client, c.id, service, template, tx));
    }
    drop(tx);
    let show = |service: &str, line: &str| {
        let (_, text) = log_sort_key(line);
        let text = if args.timestamps { line } else { &text };
        println!("{service:<width$} | {text}");
    };
    let mut held = Vec::new();
    while let Some((service, line)) = rx.recv().await {
        if args.follow {
            show(&service, &line);
        } else {
            held.push((log_sort_key(&line).0, service, line));
        }
    }
    held.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, service, line) in &held {
        show(service, line);
    }
    while let Some(done) = readers.join_next().await {
        done.map_err(|e| Fail(1, e.to_string()))??;
    }
    Ok(())
}

/// A stack's files as given on the command line.
#[derive(Debug, Args)]
pub struct FilesArgs {
    name: String,
    compose: PathBuf,
    #[arg(long)]
    env: Option<PathBuf>,
    /// Keep it even if it does not validate.
    #[arg(long)]
    draft: bool,
}

impl FilesArgs {
    fn files(self) -> Result<StackFiles, Fail> {
        files(self.name, &self.compose, self.env.as_deref(), self.draft)
    }
}

fn read(path: &Path) -> Result<String, Fail> {
    std::fs::read_to_string(path).map_err(|e| Fail(2, format!("{}: {e}", path.display())))
}

fn files(
    name: String,
    compose: &Path,
    env: Option<&Path>,
    draft: bool,
) -> Result<StackFiles, Fail> {
    Ok(StackFiles {
        name,
        compose: read(compose)?,
        env: env.map(read).transpose()?,
        draft,
    })
}

fn print_summary(s: &StackSummary) {
    let services: Vec<String> = s
        .services
        .iter()
        .map(|x| format!("{} {}/{}", x.name, x.running, x.containers))
        .collect();
    println!(
        "{:<24} {:<9} {:<12} {}{}",
        s.name,
        if s.managed { "managed" } else { "external" },
        format!("{:?}", s.state).to_lowercase(),
        services.join(", "),
        s.error
            .as_deref()
            .map(|e| format!("  ({e})"))
            .unwrap_or_default()
    );
}

fn print_validation(v: &Validation) -> Result<(), Fail> {
    for p in &v.problems {
        let at = p
            .line
            .map(|l| format!("{l}:{}: ", p.column.unwrap_or(1)))
            .unwrap_or_default();
        eprintln!("{at}{:?}: {}", p.source, p.message);
    }
    for w in &v.warnings {
        eprintln!("warning: {w}");
    }
    if v.valid {
        println!("valid");
        Ok(())
    } else {
        Err(Fail(1, "the compose file does not validate".into()))
    }
}

/// Runs `action` on a stack: its output copied to stdout as it comes, the exit code
/// the CLI's; with `--detach` only queued.
async fn act(
    client: &Client,
    args: ActionArgs,
    action: StackAction,
    json: bool,
) -> Result<(), Fail> {
    if args.detach {
        let stack = StackRef { name: args.name };
        let job = match action {
            StackAction::Up => client.call::<cat::StacksUp>(stack).await?,
            StackAction::Down => client.call::<cat::StacksDown>(stack).await?,
            StackAction::Restart => client.call::<cat::StacksRestart>(stack).await?,
            StackAction::Pull => client.call::<cat::StacksPull>(stack).await?,
            StackAction::Stop => client.call::<cat::StacksStop>(stack).await?,
            StackAction::Start => client.call::<cat::StacksStart>(stack).await?,
        };
        if json {
            print_json(&job);
        } else {
            println!("queued as job {}", job.id);
        }
        return Ok(());
    }
    let params = serde_json::to_value(StackOutputParams {
        stack: args.name,
        action,
    })
    .expect("serialisable");
    let mut channel = client.open_binary("stack.output", params, None).await?;
    let mut stdout = tokio::io::stdout();
    tokio::io::copy(&mut channel, &mut stdout)
        .await
        .map_err(|e| Fail(1, format!("the output broke off: {e}")))?;
    if let Some(e) = channel.close_error() {
        return Err(Fail::from(berth_client::ClientError::Server(e.clone())));
    }
    let code = channel
        .close_payload()
        .and_then(|p| p.get("exit_code"))
        .and_then(serde_json::Value::as_i64);
    match code {
        Some(0) => Ok(()),
        Some(c) => Err(Fail(
            u8::try_from(c).unwrap_or(1).max(1),
            format!("compose {} exited with code {c}", action.as_str()),
        )),
        None => Err(Fail(1, "the action was cut off".into())),
    }
}

async fn convert_run(client: &Client, command: String, json: bool) -> Result<(), Fail> {
    let command = if command == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Fail(2, format!("stdin: {e}")))?
    } else {
        command
    };
    let converted = client
        .call::<cat::ComposeFromDockerRun>(ConvertRun { command })
        .await?;
    if json {
        print_json(&converted);
        return Ok(());
    }
    print!("{}", converted.compose);
    for flag in &converted.unsupported {
        eprintln!("not converted: {flag}");
    }
    for warning in &converted.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

pub async fn stacks(client: &Client, cmd: StacksCmd, json: bool) -> Result<(), Fail> {
    let detail = match cmd {
        StacksCmd::Up(a) => return act(client, a, StackAction::Up, json).await,
        StacksCmd::Down(a) => return act(client, a, StackAction::Down, json).await,
        StacksCmd::Restart(a) => return act(client, a, StackAction::Restart, json).await,
        StacksCmd::Pull(a) => return act(client, a, StackAction::Pull, json).await,
        StacksCmd::Stop(a) => return act(client, a, StackAction::Stop, json).await,
        StacksCmd::Start(a) => return act(client, a, StackAction::Start, json).await,
        StacksCmd::ConvertRun { command } => return convert_run(client, command, json).await,
        StacksCmd::Logs(args) => return logs(client, args).await,
        StacksCmd::List => {
            let l = client.call::<cat::StacksList>(Empty {}).await?;
            if json {
                print_json(&l);
            } else {
                l.stacks.iter().for_each(print_summary);
            }
            return Ok(());
        }
        StacksCmd::Get { name, env } => {
            let d = client.call::<cat::StacksGet>(StackRef { name }).await?;
            if json {
                print_json(&d);
            } else {
                print!(
                    "{}",
                    if env {
                        d.env.unwrap_or_default()
                    } else {
                        d.compose
                    }
                );
            }
            return Ok(());
        }
        StacksCmd::Validate { name, compose, env } => {
            let v = client
                .call::<cat::StacksValidate>(files(name, &compose, env.as_deref(), false)?)
                .await?;
            if json {
                print_json(&v);
                return Ok(());
            }
            return print_validation(&v);
        }
        StacksCmd::Create(args) => client.call::<cat::StacksCreate>(args.files()?).await?,
        StacksCmd::Save(args) => client.call::<cat::StacksSave>(args.files()?).await?,
        StacksCmd::Adopt { name } => {
            let detail = client.call::<cat::StacksAdopt>(StackRef { name }).await?;
            for warning in &detail.validation.warnings {
                eprintln!("warning: {warning}");
            }
            detail
        }
        StacksCmd::Restore { name, id } => {
            client
                .call::<cat::StacksRestoreVersion>(VersionRef { name, id })
                .await?
        }
        StacksCmd::Delete {
            name,
            down,
            keep_volumes,
        } => {
            client
                .call::<cat::StacksDelete>(StackDelete {
                    name,
                    down,
                    keep_volumes,
                })
                .await?;
            return Ok(());
        }
        StacksCmd::History { name } => {
            let h = client.call::<cat::StacksHistory>(StackRef { name }).await?;
            if json {
                print_json(&h);
            } else {
                for v in &h.versions {
                    let when = berth_protocol::api::rfc3339(v.replaced_ms);
                    println!("{}  replaced {when} by {}", v.id, v.by);
                }
            }
            return Ok(());
        }
    };
    if json {
        print_json(&detail);
    } else {
        let state = if detail.draft { "draft" } else { "valid" };
        println!("{} saved in {} ({state})", detail.name, detail.dir);
    }
    Ok(())
}
