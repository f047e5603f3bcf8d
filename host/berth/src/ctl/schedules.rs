//! `berth ctl schedules …`: every `schedules.*` method from the command line.

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue as cat;
use berth_protocol::api::schedules::{
    HistoryQuery, PreviewSchedule, RetentionPreviewParams, ScheduleEnable, ScheduleInfo,
    ScheduleRef, ScheduleSpec,
};
use clap::Subcommand;

use super::{Fail, print_json};

#[derive(Debug, Subcommand)]
pub enum SchedulesCmd {
    /// Every schedule: next run, last result.
    List,
    /// Create a schedule from its JSON spec (`-` reads standard input), e.g.
    /// '{"name":"nightly","cron":"30 2 * * *","targets":[{"kind":"container","name":"web"}],
    ///   "backup":{"retention":{"daily":7,"weekly":4}}}'.
    Create {
        spec: String,
    },
    /// Replace a schedule's definition with this JSON spec (`-`: standard input).
    Update {
        spec: String,
    },
    Delete {
        name: String,
    },
    /// Run a schedule now (recorded as manual).
    Run {
        name: String,
    },
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
    /// The next runs of an expression, and what it means.
    Preview {
        cron: String,
        /// An IANA time zone [default: the server's]
        #[arg(long)]
        zone: Option<String>,
        #[arg(long, default_value_t = 5)]
        count: u32,
    },
    /// Runs, newest first (one schedule's, or all).
    History {
        name: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// What a retention policy (the schedule's, or this JSON one) keeps and deletes.
    Retention {
        name: String,
        #[arg(long)]
        policy: Option<String>,
    },
}

fn json_arg<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Fail> {
    let text = if text == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Fail(2, e.to_string()))?
    } else {
        text.to_owned()
    };
    serde_json::from_str(&text).map_err(|e| Fail(2, format!("{what} is not valid JSON: {e}")))
}

fn time(ms: u64) -> String {
    berth_protocol::api::rfc3339(ms)
}

fn print_schedule(s: &ScheduleInfo) {
    let next = s
        .next_runs
        .first()
        .map_or_else(|| "paused".to_owned(), |t| time(*t));
    let last = s.last_run.as_ref().map_or_else(
        || "never run".to_owned(),
        |r| format!("{:?} {}", r.outcome, time(r.at_ms)).to_lowercase(),
    );
    println!(
        "{:<24} {:<8} {:<22} next {}  last {}  ({})",
        s.spec.name,
        s.spec.action.as_str(),
        s.spec.cron,
        next,
        last,
        s.description
    );
}

pub async fn schedules(client: &Client, cmd: SchedulesCmd, json: bool) -> Result<(), Fail> {
    let shown = match cmd {
        SchedulesCmd::List => {
            let l = client.call::<cat::SchedulesList>(Empty {}).await?;
            if json {
                print_json(&l);
            } else {
                l.schedules.iter().for_each(print_schedule);
            }
            return Ok(());
        }
        SchedulesCmd::Create { spec } => {
            let spec: ScheduleSpec = json_arg(&spec, "the spec")?;
            client.call::<cat::SchedulesCreate>(spec).await?
        }
        SchedulesCmd::Update { spec } => {
            let spec: ScheduleSpec = json_arg(&spec, "the spec")?;
            client.call::<cat::SchedulesUpdate>(spec).await?
        }
        SchedulesCmd::Pause { name } => {
            let enabled = false;
            client
                .call::<cat::SchedulesEnable>(ScheduleEnable { name, enabled })
                .await?
        }
        SchedulesCmd::Resume { name } => {
            let enabled = true;
            client
                .call::<cat::SchedulesEnable>(ScheduleEnable { name, enabled })
                .await?
        }
        other => return others(client, other, json).await,
    };
    if json {
        print_json(&shown);
    } else {
        print_schedule(&shown);
        for t in &shown.next_runs {
            println!("  next {}", time(*t));
        }
    }
    Ok(())
}

/// A retention preview for people: each target, then each backup's verdict and why.
fn print_retention(p: &berth_protocol::api::schedules::RetentionPreview) {
    for g in &p.groups {
        let own = if g.own_policy {
            " (its own policy)"
        } else {
            ""
        };
        println!("{} {}{own}", g.target.kind(), g.target.name());
        for b in &g.backups {
            let verdict = if b.keep { "keep  " } else { "delete" };
            println!(
                "  {verdict} {} {} {}",
                b.id,
                time(b.created_ms),
                b.reasons.join(",")
            );
        }
    }
}

async fn others(client: &Client, cmd: SchedulesCmd, json: bool) -> Result<(), Fail> {
    let value = match cmd {
        SchedulesCmd::Delete { name } => {
            client
                .call::<cat::SchedulesDelete>(ScheduleRef { name })
                .await?;
            serde_json::json!({})
        }
        SchedulesCmd::Run { name } => {
            let run = client
                .call::<cat::SchedulesRunNow>(ScheduleRef { name })
                .await?;
            if !json {
                println!("{} {:?}: {}", run.id, run.outcome, run.message);
                return Ok(());
            }
            serde_json::to_value(run).expect("serialisable")
        }
        SchedulesCmd::Preview { cron, zone, count } => {
            let p = client
                .call::<cat::SchedulesPreview>(PreviewSchedule {
                    cron,
                    zone,
                    count: Some(count),
                })
                .await?;
            if !json {
                println!("{} ({})", p.description, p.zone);
                p.next_runs.iter().for_each(|t| println!("  {}", time(*t)));
                return Ok(());
            }
            serde_json::to_value(p).expect("serialisable")
        }
        SchedulesCmd::History { name, limit } => {
            let h = client
                .call::<cat::SchedulesHistory>(HistoryQuery {
                    name,
                    limit: Some(limit),
                })
                .await?;
            if !json {
                for r in &h.runs {
                    let outcome = format!("{:?}", r.outcome).to_lowercase();
                    println!(
                        "{}  {:<20} {:<10} {}",
                        time(r.at_ms),
                        r.schedule,
                        outcome,
                        r.message
                    );
                }
                return Ok(());
            }
            serde_json::to_value(h).expect("serialisable")
        }
        SchedulesCmd::Retention { name, policy } => {
            let retention = policy
                .as_deref()
                .map(|p| json_arg(p, "the policy"))
                .transpose()?;
            let p = client
                .call::<cat::SchedulesRetentionPreview>(RetentionPreviewParams {
                    schedule: name,
                    retention,
                    target_retention: None,
                })
                .await?;
            if !json {
                print_retention(&p);
                return Ok(());
            }
            serde_json::to_value(p).expect("serialisable")
        }
        SchedulesCmd::List
        | SchedulesCmd::Create { .. }
        | SchedulesCmd::Update { .. }
        | SchedulesCmd::Pause { .. }
        | SchedulesCmd::Resume { .. } => unreachable!("handled by the caller"),
    };
    if json {
        print_json(&value);
    } else {
        println!("done");
    }
    Ok(())
}
