//! `waymark`: runs Waymark's services, one, several or all in one process.
//!
//! Exit codes: 0 done; 1 a service stopped with an error; 2 the command line is wrong;
//! 3 the configuration is invalid; 4 PostgreSQL or NATS cannot be reached or migrated;
//! 5 `verify-audit` found an audit trail that was tampered with, or `anchor-audit` refused
//! to sign one.

mod audit;
mod bootstrap;
mod demo;
mod projections;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use waymark_runtime::platform::PlatformError;
use waymark_runtime::process::StartError;

#[derive(Parser)]
#[command(
    name = "waymark",
    version,
    about = "Monitoring and tracking for schools and trusts"
)]
struct Cli {
    /// Configuration file (TOML). Environment variables WAYMARK_* override it.
    #[arg(long, global = true, env = "WAYMARK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs services: `--all`, or the ones named (scheduling, review-dialogue,
    /// action-tracking, notifications, gateway).
    Serve {
        #[arg(long, conflicts_with = "services")]
        all: bool,
        #[arg(value_parser = serve::SERVICES)]
        services: Vec<String>,
    },
    /// Creates or upgrades every schema, then exits.
    Migrate,
    /// Sets up a trust: its schools and its administrator, who gets an invitation link.
    Bootstrap {
        /// The trust's name.
        #[arg(long)]
        trust: String,
        /// A school of the trust (repeat for several).
        #[arg(long = "school")]
        schools: Vec<String>,
        /// The administrator's name.
        #[arg(long)]
        admin_name: String,
        /// The administrator's e-mail address (they sign in with it).
        #[arg(long)]
        admin_email: String,
    },
    /// Builds a demonstration trust through the services' own commands (the services must
    /// be running, at the addresses the configuration gives) and prints the sign-in of one
    /// person of each role.
    Demo {
        /// How many schools.
        #[arg(long, default_value_t = 3)]
        schools: usize,
        /// Class teachers per school.
        #[arg(long, default_value_t = 8)]
        teachers: usize,
        /// How many of each school's teachers have meetings, reviews and actions.
        #[arg(long, default_value_t = 6)]
        active_teachers: usize,
        /// The same seed gives the same schools, people and states.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The trust's name.
        #[arg(long, default_value = "Oak Valley Learning Trust")]
        trust: String,
        /// The password of the people whose sign-in is printed (nobody else has one).
        #[arg(
            long,
            env = "WAYMARK_DEMO_PASSWORD",
            default_value = "demonstration only"
        )]
        password: String,
    },
    /// Recomputes the action audit trail's hash chain of one trust (or of every trust) from
    /// the stored events, compares it with the signed anchors (when `audit.signing_key` or
    /// `audit.verifying_key` is set) and reports the first altered, removed, reordered,
    /// rewritten or truncated event.
    VerifyAudit {
        /// The trust to check; every trust when left out.
        #[arg(long)]
        trust: Option<waymark_domain::TrustId>,
    },
    /// Signs and anchors every trust's new audit links now, as the service does hourly.
    AnchorAudit,
    /// Prints a new Ed25519 key pair for `audit.signing_key` and `audit.verifying_key`.
    AuditKey,
    /// The read models that can be built again from the event store.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Lists them, with the store position each has read up to.
    List,
    /// Builds one again from the start of the store, in one transaction: the old read
    /// model keeps serving until the new one replaces it. Its live feed waits meanwhile.
    Rebuild {
        /// Its name, as `list` prints it.
        name: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { all, services } => {
            if !all && services.is_empty() {
                eprintln!("name the services to run, or use --all");
                return ExitCode::from(2);
            }
            let selected: Vec<&str> = if all {
                serve::SERVICES.to_vec()
            } else {
                serve::SERVICES
                    .iter()
                    .copied()
                    .filter(|s| services.iter().any(|n| n == s))
                    .collect()
            };
            serve::serve(cli.config.as_deref(), &selected).await
        }
        Command::Migrate => serve::migrate(cli.config.as_deref()).await,
        Command::Bootstrap {
            trust,
            schools,
            admin_name,
            admin_email,
        } => {
            bootstrap::create(
                cli.config.as_deref(),
                &trust,
                &schools,
                &admin_name,
                &admin_email,
            )
            .await
        }
        Command::Demo {
            schools,
            teachers,
            active_teachers,
            seed,
            trust,
            password,
        } => {
            let options = waymark_demo::Options {
                trust_name: trust,
                schools,
                teachers,
                active_teachers,
                seed,
                password,
            };
            demo::build(cli.config.as_deref(), options).await
        }
        Command::VerifyAudit { trust } => match audit::verify(cli.config.as_deref(), trust).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(5),
            Err(error) => Err(error),
        },
        Command::AnchorAudit => match audit::anchor(cli.config.as_deref()).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(5),
            Err(error) => Err(error),
        },
        Command::AuditKey => {
            let (signing, verifying) = waymark_action_tracking::anchors::new_key();
            println!("[audit]\nsigning_key = \"{signing}\"\nverifying_key = \"{verifying}\"");
            Ok(())
        }
        Command::Projections { command } => match command {
            ProjectionsCommand::List => projections::list(cli.config.as_deref()).await,
            ProjectionsCommand::Rebuild { name } => {
                projections::rebuild(cli.config.as_deref(), &name).await
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("waymark: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<StartError>() {
        Some(StartError::Config(_) | StartError::Platform(PlatformError::NoInternalKey)) => 3,
        Some(StartError::Platform(_)) => 4,
        None => 1,
    }
}
