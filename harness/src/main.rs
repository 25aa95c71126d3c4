use clap::Parser as _;

// The mocks allocate per request (headers, JSON, XML); mimalloc keeps that cheap under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use authsim::cli::{Cli, Command, WorldCommand};
use authsim::{bench, compare, exit, run, serve, world_show};

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
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(serve::run(args))),
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
