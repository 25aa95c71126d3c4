use clap::Parser as _;

// The mocks allocate per request (headers, JSON, XML); mimalloc keeps that cheap under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use authsim::cli::{Cli, Command, WorldCommand};
use authsim::{bench, compare, exit, run, serve, world_show};

/// `authsim serve` on `--threads` current-thread runtimes (one per core by default), which
/// take the listeners' connections in turn (see `authsim_mocks::server::spawn_listener`).
fn serve_per_thread(mut args: authsim::cli::ServeArgs) -> anyhow::Result<()> {
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for i in 1..threads {
        let rt = runtime()?;
        args.extra_runtimes.push(rt.handle().clone());
        let mut stop = stop_rx.clone();
        workers.push(
            std::thread::Builder::new()
                .name(format!("authsim-serve-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                })?,
        );
    }
    let result = runtime()?.block_on(serve::run(args));
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.join();
    }
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
        Command::Run(args) => std::process::exit(run::main(args)),
        Command::Compare(args) => std::process::exit(compare::main(&args)),
        Command::Bench(args) => std::process::exit(bench::main(args)),
        Command::Merge(args) => std::process::exit(bench::merge::main(&args)),
        Command::Serve(args) => serve_per_thread(args),
        Command::World {
            command: WorldCommand::Show { world, json },
        } => serve::load_world(&world, &authsim_mocks::clock::SystemClock).map(|w| {
            if json {
                println!("{:#}", world_show::to_json(&w));
            } else {
                print!("{}", world_show::to_text(&w));
            }
        }),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(exit::ERROR);
    }
}
