//! `mnemo-migrate up | down [N] | status | fresh | seed` against `DATABASE_URL`.

use mnemo_migration::{Migrator, MigratorTrait};
use mnemo_shared::config::Settings;

#[tokio::main]
async fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mnemo-migrate: {e}");
            std::process::exit(2);
        }
    };
    mnemo_shared::telemetry::init(&settings.log_format);
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&settings, &args).await {
        eprintln!("mnemo-migrate: {e}");
        std::process::exit(1);
    }
}

async fn run(settings: &Settings, args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let db = mnemo_shared::store::db::connect(settings).await?;
    let steps = |i: usize| -> Result<Option<u32>, Box<dyn std::error::Error>> {
        args.get(i)
            .map(|s| s.parse::<u32>().map_err(|_| format!("not a number of steps: {s}").into()))
            .transpose()
    };
    match args.first().map(String::as_str) {
        Some("up") => mnemo_migration::up(&db, steps(1)?).await?,
        Some("down") => mnemo_migration::down(&db, Some(steps(1)?.unwrap_or(1))).await?,
        Some("status") => {
            for m in Migrator::get_migration_with_status(&db).await? {
                println!("{:?}\t{}", m.status(), m.name());
            }
        }
        Some("fresh") => {
            mnemo_migration::down(&db, None).await?;
            mnemo_migration::up(&db, None).await?;
        }
        Some("seed") => {
            mnemo_migration::up(&db, None).await?;
            let report = mnemo_migration::seed::seed(&db).await?;
            println!("{report}");
        }
        _ => {
            eprintln!("usage: mnemo-migrate up [N] | down [N] | status | fresh | seed");
            std::process::exit(2);
        }
    }
    Ok(())
}
