use clap::Parser as _;

// The mocks allocate per request (headers, JSON, XML); mimalloc keeps that cheap under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use authsim::cli::{Cli, Command, WorldCommand};
use authsim::runtimes::PerCore;
use authsim::{bench, compare, exit, run, serve, world_show};

/// `authsim serve` on `--threads` current-thread runtimes (one per core by default), which
/// take the listeners' connections in turn (see `authsim_mocks::server::spawn_listener`).
fn serve_per_thread(args: authsim::cli::ServeArgs) -> anyhow::Result<()> {
    let count = PerCore::count(args.threads.map(usize::from));
    let per_core = PerCore::start(count, "authsim-serve")?;
    let result = PerCore::main_runtime()?.block_on(serve::run(args, per_core.handles()));
    drop(per_core);
    result
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AUTHSIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        // An empty VAULT_ADDR is no target, as the Vault CLI reads it.
        Command::Run(mut args) => {
            args.vault_addr = args.vault_addr.filter(|a| !a.is_empty());
            std::process::exit(run::main(args))
        }
        Command::Compare(args) => std::process::exit(compare::main(&args)),
        Command::Bench(mut args) => {
            args.vault_addr = args.vault_addr.filter(|a| !a.is_empty());
            std::process::exit(bench::main(args))
        }
        Command::Merge(args) => std::process::exit(bench::merge::main(&args)),
        Command::Serve(args) => serve_per_thread(args),
        Command::World {
            command: WorldCommand::Show { world, json },
        } => serve::load_world(&world, &authsim_mocks::clock::SystemClock).map(|w| {
            if json {
                authsim::stdout::println(&format!("{:#}", world_show::to_json(&w)));
            } else {
                authsim::stdout::print(&world_show::to_text(&w));
            }
        }),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(exit::ERROR);
    }
}
