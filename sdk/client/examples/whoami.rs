//! Who am I, and a few seconds of host figures.
//!
//! ```sh
//! BERTH_URL=http://127.0.0.1:8080 BERTH_TOKEN=berth_… cargo run -p berth-client --example whoami
//! ```

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{AuthWhoami, SystemStats};
use berth_protocol::api::system::SystemStatsParams;
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("BERTH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("BERTH_TOKEN").map_err(|_| "set BERTH_TOKEN to an API token")?;
    let client = Client::connect(&url, &token).await?;
    let me = client.call::<AuthWhoami>(Empty {}).await?;
    println!("{} ({})", me.user.name, me.role.as_str());
    let mut stats = client
        .open::<SystemStats>(SystemStatsParams::default())
        .await?;
    for _ in 0..3 {
        if let Some(s) = stats.next().await {
            let s = s?;
            println!(
                "cpu {:.1}%  memory {} MiB used",
                s.cpu_percent,
                s.mem_used >> 20
            );
        }
    }
    Ok(())
}
